"""The receiver: Alertmanager webhook -> incidents -> durable outbox -> notifiers."""
