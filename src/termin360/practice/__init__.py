"""The practice calendar (the DURIA Terminkalender): the master of the practice's day."""
