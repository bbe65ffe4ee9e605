from registry.models import Patient


def registry(request) -> dict:
    """Tell every page whether synthetic demo data is loaded (one query)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"synthetic_data": False}
    return {"synthetic_data": Patient.objects.synthetic().exists()}
