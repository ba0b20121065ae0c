"""Deployments. One code base, two roles, each with its own settings module and database:

- ``termin360.deploy.practice.settings`` — the practice calendar (and later the connector),
- ``termin360.deploy.portal.settings`` — the booking portal (a later issue).

The console command picks the settings module for the role it starts, so a
process never holds both roles and the two databases never meet.
"""
