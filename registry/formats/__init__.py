"""The registry's one date format, ISO 8601 (YYYY-MM-DD), for every locale.

Django's locale formats win over the DATE_FORMAT settings, so the formats are
set here (FORMAT_MODULE_PATH) for the languages the registry runs in: pages,
the admin and date inputs all show and read 2004-01-28, never 28 Jan 2004 or
01/28/2004.
"""
