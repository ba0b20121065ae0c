"""Pure rules of the practice calendar: slot grid, slot states, multi-slot runs,
reservations. Plain dataclasses and functions; no Django import (checked by import-linter)."""
