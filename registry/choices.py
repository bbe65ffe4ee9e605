"""Coded vocabularies of the registry.

Each vocabulary is a ``TextChoices`` whose stored codes are stable: a code, once
released, is never renamed or reused, because saved reports, exports and history
rows refer to it. Labels may be reworded. The order of members is the order
shown in forms and, for ordered categories, the clinical order.
"""

from django.db import models


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "X", "Other / not stated"


class AsaClass(models.TextChoices):
    I = "I", "ASA I – healthy"  # noqa: E741 (the class is called I)
    II = "II", "ASA II – mild systemic disease"
    III = "III", "ASA III – severe systemic disease"
    IV = "IV", "ASA IV – constant threat to life"
    V = "V", "ASA V – moribund"


class PresentingSymptom(models.TextChoices):
    NONE = "none", "None (screen or incidental)"
    BLEEDING = "bleeding", "Bleeding"
    OBSTRUCTION = "obstruction", "Obstruction"
    PERFORATION = "perforation", "Perforation"
    OTHER = "other", "Other"
    UNKNOWN = "unk", "Unknown"
    NOT_RECORDED = "nr", "Not recorded"


class PrimarySite(models.TextChoices):
    RECTUM_LOW = "rectum_low", "Rectum, low (0–5 cm)"
    RECTUM_MID = "rectum_mid", "Rectum, mid (5–10 cm)"
    RECTUM_HIGH = "rectum_high", "Rectum, high (10–15 cm)"
    RECTOSIGMOID = "rectosigmoid", "Rectosigmoid junction"
    SIGMOID = "sigmoid", "Sigmoid colon"
    DESCENDING = "descending", "Descending colon"
    SPLENIC_FLEXURE = "splenic_flexure", "Splenic flexure"
    TRANSVERSE = "transverse", "Transverse colon"
    HEPATIC_FLEXURE = "hepatic_flexure", "Hepatic flexure"
    ASCENDING = "ascending", "Ascending colon"
    CAECUM = "caecum", "Caecum"
    UNKNOWN = "unk", "Unknown (colorectal, site not known)"
    NOT_RECORDED = "nr", "Not recorded"


RECTAL_SITES = frozenset(
    {PrimarySite.RECTUM_LOW, PrimarySite.RECTUM_MID, PrimarySite.RECTUM_HIGH}
)


class Histology(models.TextChoices):
    ADENOCARCINOMA = "adeno", "Adenocarcinoma"
    MUCINOUS = "mucinous", "Mucinous adenocarcinoma"
    SIGNET_RING = "signet", "Signet-ring cell carcinoma"
    OTHER = "other", "Other"
    NOT_RECORDED = "nr", "Not recorded"


class Grade(models.TextChoices):
    G1 = "G1", "G1 – well differentiated"
    G2 = "G2", "G2 – moderately differentiated"
    G3 = "G3", "G3 – poorly differentiated"
    GX = "GX", "GX – cannot be assessed"


class ClinicalT(models.TextChoices):
    TX = "TX", "TX"
    T0 = "T0", "T0"
    TIS = "Tis", "Tis"
    T1 = "T1", "T1"
    T2 = "T2", "T2"
    T3 = "T3", "T3"
    T4A = "T4a", "T4a"
    T4B = "T4b", "T4b"
    UNKNOWN = "unk", "Unknown"
    NOT_RECORDED = "nr", "Not recorded"


class ClinicalN(models.TextChoices):
    NX = "NX", "NX"
    N0 = "N0", "N0"
    N1A = "N1a", "N1a"
    N1B = "N1b", "N1b"
    N1C = "N1c", "N1c"
    N2A = "N2a", "N2a"
    N2B = "N2b", "N2b"
    UNKNOWN = "unk", "Unknown"
    NOT_RECORDED = "nr", "Not recorded"


class ClinicalM(models.TextChoices):
    """AJCC 8th edition M category."""

    M0 = "M0", "M0 – no distant metastasis"
    M1A = "M1a", "M1a – one organ, no peritoneum"
    M1B = "M1b", "M1b – two or more organs, no peritoneum"
    M1C = "M1c", "M1c – peritoneum"
    UNKNOWN = "unk", "Unknown (not staged)"
    NOT_RECORDED = "nr", "Not recorded"


class MutationStatus(models.TextChoices):
    WILD_TYPE = "wt", "Wild type"
    MUTANT = "mut", "Mutant"
    NOT_TESTED = "nt", "Not tested"
    UNKNOWN = "unk", "Unknown (tested, result not available)"
    NOT_RECORDED = "nr", "Not recorded"


class MmrStatus(models.TextChoices):
    PROFICIENT = "pmmr", "pMMR / MSS"
    DEFICIENT = "dmmr", "dMMR / MSI-high"
    NOT_TESTED = "nt", "Not tested"
    UNKNOWN = "unk", "Unknown (tested, result not available)"
    NOT_RECORDED = "nr", "Not recorded"


class MetastasisTiming(models.TextChoices):
    SYNCHRONOUS = "synchronous", "Synchronous (at diagnosis)"
    METACHRONOUS = "metachronous", "Metachronous (after diagnosis)"


class LiverDistribution(models.TextChoices):
    UNILOBAR = "unilobar", "Unilobar"
    BILOBAR = "bilobar", "Bilobar"


class LiverExtent(models.TextChoices):
    """Share of the liver replaced by tumour: an ordered category."""

    UNDER_25 = "lt25", "< 25%"
    FROM_25_TO_50 = "25to50", "25–50%"
    FROM_50_TO_75 = "50to75", "50–75%"
    OVER_75 = "gt75", "> 75%"


LIVER_EXTENT_ORDER = {code: rank for rank, code in enumerate(LiverExtent.values)}


class ExtrahepaticDisease(models.TextChoices):
    NONE = "none", "None"
    LUNG = "lung", "Lung"
    PERITONEUM = "peritoneum", "Peritoneum"
    DISTANT_NODES = "nodes", "Distant lymph nodes"
    BONE = "bone", "Bone"
    MULTIPLE = "multiple", "More than one site"
    OTHER = "other", "Other"
    UNKNOWN = "unk", "Unknown"
    NOT_RECORDED = "nr", "Not recorded"


class Resectability(models.TextChoices):
    """The multidisciplinary team's initial call on the liver disease."""

    RESECTABLE = "resectable", "Resectable"
    POTENTIALLY = "potentially", "Potentially resectable"
    UNRESECTABLE = "unresectable", "Unresectable"


class RadiationType(models.TextChoices):
    LONG_COURSE_CRT = "long_crt", "Long-course chemoradiation"
    SHORT_COURSE = "short", "Short-course radiotherapy (5 × 5 Gy)"
    LIVER_SBRT = "liver_sbrt", "Stereotactic radiotherapy to the liver"
    OTHER = "other", "Other"


class ConcurrentAgent(models.TextChoices):
    NONE = "none", "None"
    CAPECITABINE = "capecitabine", "Capecitabine"
    FLUOROURACIL = "5fu", "5-FU infusion"
    OTHER = "other", "Other"


class Regimen(models.TextChoices):
    FOLFOX = "folfox", "FOLFOX"
    FOLFIRI = "folfiri", "FOLFIRI"
    CAPOX = "capox", "CAPOX (XELOX)"
    FOLFOXIRI = "folfoxiri", "FOLFOXIRI"
    FLUOROURACIL_LV = "5fu_lv", "5-FU / leucovorin"
    CAPECITABINE = "capecitabine", "Capecitabine"
    OTHER = "other", "Other"


class Biologic(models.TextChoices):
    NONE = "none", "None"
    BEVACIZUMAB = "bevacizumab", "Bevacizumab"
    CETUXIMAB = "cetuximab", "Cetuximab"
    PANITUMUMAB = "panitumumab", "Panitumumab"
    OTHER = "other", "Other"


class TherapySetting(models.TextChoices):
    NEOADJUVANT = "neoadjuvant", "Neoadjuvant / conversion"
    ADJUVANT = "adjuvant", "Adjuvant"
    PALLIATIVE_FIRST = "palliative_1", "Palliative, first line"
    LATER_LINE = "later_line", "Palliative, second or later line"


class StopReason(models.TextChoices):
    ONGOING = "ongoing", "Ongoing"
    COMPLETED = "completed", "Completed as planned"
    SURGERY = "surgery", "Stopped for surgery"
    PROGRESSION = "progression", "Progression"
    TOXICITY = "toxicity", "Toxicity"
    PATIENT_CHOICE = "choice", "Patient choice"
    DEATH = "death", "Death"
    OTHER = "other", "Other"


class Response(models.TextChoices):
    """Best overall response by RECIST 1.1."""

    COMPLETE = "CR", "Complete response"
    PARTIAL = "PR", "Partial response"
    STABLE = "SD", "Stable disease"
    PROGRESSION = "PD", "Progressive disease"
    NOT_EVALUABLE = "NE", "Not evaluable"


class PrimaryProcedure(models.TextChoices):
    NONE = "none", "None"
    LOW_ANTERIOR = "lar", "Low anterior resection"
    ABDOMINOPERINEAL = "apr", "Abdominoperineal resection"
    HARTMANN = "hartmann", "Hartmann's procedure"
    LOCAL_EXCISION = "local", "Local excision (TEM / TAMIS)"
    EXENTERATION = "exenteration", "Pelvic exenteration"
    ANTERIOR = "ar", "Anterior resection (high)"
    SIGMOID_COLECTOMY = "sigmoid", "Sigmoid colectomy"
    LEFT_HEMICOLECTOMY = "left_hemi", "Left hemicolectomy"
    RIGHT_HEMICOLECTOMY = "right_hemi", "Right hemicolectomy"
    SUBTOTAL_COLECTOMY = "subtotal", "Subtotal colectomy"
    OTHER_RESECTION = "other", "Other resection of the primary"


class LiverProcedure(models.TextChoices):
    NONE = "none", "None"
    MAJOR_HEPATECTOMY = "major", "Major hepatectomy (3 or more segments)"
    MINOR_HEPATECTOMY = "minor", "Minor hepatectomy (fewer than 3 segments)"
    METASTASECTOMY = "wedge", "Wedge resection / metastasectomy"
    RESECTION_ABLATION = "resection_ablation", "Resection with ablation"
    ABLATION = "ablation", "Ablation only (RFA / microwave)"
    PORTAL_VEIN_EMBOLISATION = "pve", "Portal vein embolisation / ligation"
    BIOPSY = "biopsy", "Biopsy only"


class PalliativeProcedure(models.TextChoices):
    NONE = "none", "None"
    STOMA = "stoma", "Diverting stoma"
    STENT = "stent", "Colonic stent"
    BYPASS = "bypass", "Bypass"
    OTHER = "other", "Other palliative procedure"


class Intent(models.TextChoices):
    CURATIVE = "curative", "Curative"
    PALLIATIVE = "palliative", "Palliative"
    DIAGNOSTIC = "diagnostic", "Diagnostic / staging"


class Margin(models.TextChoices):
    R0 = "R0", "R0 – microscopically clear"
    R1 = "R1", "R1 – microscopic residual"
    R2 = "R2", "R2 – macroscopic residual"
    NOT_APPLICABLE = "na", "Not applicable (no resection)"
    UNKNOWN = "unk", "Unknown (not in the pathology report)"
    NOT_RECORDED = "nr", "Not recorded"


class ClavienDindo(models.TextChoices):
    """Worst complication within 90 days, by the Clavien-Dindo grade."""

    NONE = "0", "None"
    I = "I", "I"  # noqa: E741 (the grade is called I)
    II = "II", "II"
    IIIA = "IIIa", "IIIa"
    IIIB = "IIIb", "IIIb"
    IVA = "IVa", "IVa"
    IVB = "IVb", "IVb"
    V = "V", "V (death)"


class ContactType(models.TextChoices):
    CLINIC = "clinic", "Clinic visit"
    TELEPHONE = "telephone", "Telephone"
    LETTER = "letter", "Letter or outside record"
    REGISTRY = "registry", "Registry linkage"


class DiseaseStatus(models.TextChoices):
    NO_EVIDENCE = "ned", "No evidence of disease"
    STABLE = "stable", "Stable disease (not disease free)"
    LOCAL_RECURRENCE = "local", "Local recurrence"
    HEPATIC = "hepatic", "Hepatic recurrence"
    EXTRAHEPATIC = "extrahepatic", "Extrahepatic recurrence"
    PROGRESSION = "progression", "Progression"
    UNKNOWN = "unknown", "Unknown"
    NOT_RECORDED = "nr", "Not recorded"


class CauseOfDeath(models.TextChoices):
    COLORECTAL = "colorectal", "Colorectal cancer"
    TREATMENT = "treatment", "Treatment related"
    OTHER_CANCER = "other_cancer", "Other cancer"
    OTHER = "other", "Other cause"
    UNKNOWN = "unknown", "Unknown"


class VitalStatus(models.TextChoices):
    ALIVE = "alive", "Alive"
    DEAD = "dead", "Dead"


class Strategy(models.TextChoices):
    """Resection strategy, derived from the operations (registry.derive)."""

    SYNCHRONOUS = "synchronous", "Synchronous resection"
    STAGED = "staged", "Staged resection"
    PRIMARY_ONLY = "primary_only", "Primary only"
    LIVER_ONLY = "liver_only", "Liver only"
    NONE = "none", "No resection"


class StagedOrder(models.TextChoices):
    """Which organ a staged resection dealt with first."""

    PRIMARY_FIRST = "primary_first", "Primary first"
    LIVER_FIRST = "liver_first", "Liver first"


class IndexDate(models.TextChoices):
    DIAGNOSIS = "diagnosis", "Date of diagnosis"
    TREATMENT = "treatment", "Start of first treatment"
    OPERATION = "operation", "First operation"


class Endpoint(models.TextChoices):
    OVERALL = "os", "Overall survival"
    RECURRENCE_FREE = "rfs", "Recurrence / progression-free survival"
    CANCER_SPECIFIC = "css", "Cancer-specific survival"


class Missing(models.TextChoices):
    """Missing-data codes (REDCap's convention), added to the vocabularies needing them.

    A field whose answer may be unknown offers these codes beside its clinical answers;
    the completeness figures and the reports count them as missing, never as an answer.
    """

    UNKNOWN = "unk", "Unknown"
    NOT_APPLICABLE = "na", "Not applicable"
    NOT_RECORDED = "nr", "Not recorded"


#: The stored codes that mean "no answer" in any vocabulary that offers them.
MISSING_CODES = frozenset(Missing.values)


def is_missing(code: str | None) -> bool:
    """Return True if `code` is blank or one of the missing-data codes (Missing)."""
    return code in (None, "") or code in MISSING_CODES
