"""The demo's portal logins (no Django import: the demo launcher prints them)."""

DEMO_LOGINS = [
    ("patientin@example.org", "patientin-demo", "Patientin (bestätigt)"),
    ("praxis-berger@example.org", "praxis-demo", "Praxis Dr. Berger (Verwaltung)"),
]
