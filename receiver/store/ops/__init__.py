"""The store's operations, written once for both engines, one module per entity.

``sql`` holds the ``Q`` statement type and JSON columns; ``incidents``, ``outbox`` and
``timers`` the operations on each; ``transactions`` the transactions that apply a pure decision's
``Changes`` across all three (a delivery, an action, a fired timer).
"""
