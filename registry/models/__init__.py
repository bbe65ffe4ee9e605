"""The registry's clinical data model, one module per clinical area."""

from registry.models.facts import DerivedFacts, FactsCheck
from registry.models.followup import Death, FollowUp
from registry.models.patients import Patient
from registry.models.queries import DataQuery, QueryStep
from registry.models.sites import Site, SiteVersion
from registry.models.status import RecordStatus
from registry.models.tokens import ApiToken
from registry.models.transfers import TransferLog
from registry.models.treatments import Operation, RadiationCourse, SystemicTherapyLine
from registry.models.tumours import LiverMetastases, PrimaryTumour
from registry.models.warnings import ConfirmedWarning

__all__ = [
    "ApiToken",
    "ConfirmedWarning",
    "Death",
    "DataQuery",
    "DerivedFacts",
    "FactsCheck",
    "FollowUp",
    "LiverMetastases",
    "Operation",
    "Patient",
    "PrimaryTumour",
    "QueryStep",
    "RadiationCourse",
    "RecordStatus",
    "Site",
    "SiteVersion",
    "SystemicTherapyLine",
    "TransferLog",
]
