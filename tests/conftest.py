"""Suite-wide test settings."""

from django.conf import settings


def pytest_configure(config):
    # Hashing every test user's password with PBKDF2's 10^6 iterations costs
    # seconds per test class; the hasher is not what the tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
