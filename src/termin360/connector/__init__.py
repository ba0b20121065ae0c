"""The connector (DURIA's ``TMEX``): runs beside the practice calendar, in its database,
and keeps the practice calendar and the portal's online calendars in step over the
portal's sync API. It reaches the portal only through ``termin360.protocol`` and HTTPS."""
