"""One module per notification channel type behind ``receiver.notify.base.Notifier``."""
