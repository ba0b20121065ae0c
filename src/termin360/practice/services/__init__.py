"""Writes of the practice calendar. Views and API endpoints call these and nothing else.

Every change that affects which times of a column are occupied runs inside
``occupancy.occupancy_change()``: it opens the transaction, locks the columns
involved and, before commit, tells the registered listeners which
(column, day) pairs changed. The connector hooks its outbox in there, so the
outbox row commits together with the change it describes.
"""
