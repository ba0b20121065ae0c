"""The connector between practice calendar and portal (DURIA's TMEX). Built in a later issue."""
