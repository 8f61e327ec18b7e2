"""Async workers on the store and the notifiers (dispatcher, escalation, vendor drafts,
pipeline health); no aiohttp.web."""
