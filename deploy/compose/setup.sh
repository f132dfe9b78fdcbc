#!/bin/sh
# One-shot setup of the compose topology; every step is idempotent, so it may run again.
#   1. vhost, quorum default, policies and dead-letter queues on each broker
#   2. the site -> headquarters shovels (ack-mode on-confirm)
#   3. one database per service (identity's and portal's too, in every stack), migrated
# identity and portal consume no events (nothing of theirs crosses the links): step 1 names
# the services that consume, which get a dead-letter queue and a policy.
# It reads no service's secret: those are generated beforehand on the host
# (deploy/compose/secrets.sh) and mounted into each service's own container.
set -eu

aftersales broker setup --admin-url http://guest:guest@rabbitmq-hq:15672 \
    --vhost hq --services crm,notify,bi,partners
for site in D001 D002; do
    host=rabbitmq-$(echo "$site" | tr 'A-Z' 'a-z')
    aftersales broker setup --admin-url "http://guest:guest@$host:15672" \
        --vhost "site-$site" --services booking,workorder,parts
done

aftersales uplink --file /etc/aftersales/uplinks.yaml setup

aftersales --config /etc/aftersales/headquarters.yaml db upgrade crm notify bi partners identity portal
for site in D001 D002; do
    aftersales --config "/etc/aftersales/site-$site.yaml" db upgrade booking workorder parts identity portal
done
echo "setup: brokers, uplinks and databases ready"
