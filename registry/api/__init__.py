"""The registry's REST API (Django REST framework).

The API is another door to the same rooms as the pages: it reads through the
same scoped querysets and selectors, writes through registry.services (model
validation, the version check, history with the user, stored facts refreshed),
and applies the same roles and identifier rule.
"""
