"""Web pages of the portal, one module per area (accounts, patients' pages, practice admin)."""
