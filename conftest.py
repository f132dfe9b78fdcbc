# eventlet must patch the standard library before anything opens a socket, or the RabbitMQ
# tests hang; psycopg2 is made green at the same time.
from chassis.runner import green

green()

pytest_plugins = ["chassis.testing"]
