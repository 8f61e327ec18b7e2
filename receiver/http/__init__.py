"""The receiver's HTTP layer: every route, its auth, body limits and JSON errors."""
