"""Pure helpers shared by every part: intervals, time zones, names, errors. No Django."""
