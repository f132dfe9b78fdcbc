#!/bin/sh
# The compose topology's secrets, generated on this machine before the first
# `docker compose up`:   deploy/compose/secrets.sh [folder]   (default deploy/compose/secrets)
#
# One set per stack, each value random (openssl rand, else Python's `secrets`): headquarters
# and every dealer site get their own, nothing is shared between them. docker-compose.yml
# mounts each file into the one container that reads it, under /run/secrets/.
#   hq/crm/crm_encryption_key, crm_blind_index_key, survey_link_secret
#   hq/notify/contact_secret, link_secret
#   hq/identity/key_encryption_key, hq/partners/secret_encryption_key
#   hq/portal/session_secret
#   <site>/workorder/report_link_secret, <site>/identity/key_encryption_key,
#   <site>/portal/session_secret
#   grafana/admin_password
# A file already there is kept: crm's keys cannot change once customers are stored (delete a
# file, and its data, to start over). The folder is git-ignored and readable by its owner only.
set -eu

folder=${1:-$(dirname "$0")/secrets}
umask 077

# url-safe base64 of $1 random bytes; 32 bytes make a Fernet key (crm, identity).
random() {
    if command -v openssl >/dev/null 2>&1; then
        openssl rand -base64 "$1" | tr -d '\n' | tr '+/' '-_'
    else
        "${PYTHON:-python3}" -c 'import base64, secrets, sys
print(base64.urlsafe_b64encode(secrets.token_bytes(int(sys.argv[1]))).decode(), end="")' "$1"
    fi
}

secret() {  # secret <stack>/<service>/<name> <bytes>
    path="$folder/$1"
    if [ -s "$path" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    random "$2" >"$path.new"
    # The containers run as their own users: the file is readable, its folder is not.
    chmod 0644 "$path.new"
    mv "$path.new" "$path"
    echo "secrets: wrote $path"
}

secret hq/crm/crm_encryption_key 32
secret hq/crm/crm_blind_index_key 48
secret hq/crm/survey_link_secret 48
secret hq/notify/contact_secret 48
secret hq/notify/link_secret 48
secret hq/identity/key_encryption_key 32
secret hq/partners/secret_encryption_key 32
secret hq/portal/session_secret 48
for site in D001 D002; do
    secret "$site/workorder/report_link_secret" 48
    secret "$site/identity/key_encryption_key" 32
    secret "$site/portal/session_secret" 48
done
secret grafana/admin_password 24
chmod 0700 "$folder"
