"""Conventions shared by the JSON APIs of portal and practice calendar: the JSON body
parser, the error answers and the base of request schemas.

Both parts use it; it imports neither (import-linter), so it is no back door between them.
"""
