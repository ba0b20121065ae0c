"""termin360: online appointment booking with a two-way sync into the practice calendar.

The three parts live in their own packages: ``portal`` (the central booking
portal), ``practice`` (the practice's own calendar, the master of its day) and
``connector`` (the sync between the two). ``protocol`` holds what portal and
connector agree on over HTTP; ``core`` holds pure helpers used by all.
"""

__version__ = "0.1.0"
