"""Template filters that print report numbers as a paper does.

They are thin wrappers: the rules are :mod:`analytics.formatting`'s, which the PDF
and the Word document use too, and the tables come formatted from
:func:`analytics.documents.tables.report_tables`.
"""

from django import template

from analytics import formatting
from analytics.disclosure import is_masked
from analytics.documents.tables import ReportTables, report_tables

register = template.Library()
DASH = formatting.DASH


@register.filter
def num(value, digits=1):
    """Return a number to `digits` decimals, a dash for None, a hidden count as is."""
    return formatting.num(value, int(digits))


@register.filter
def pct(value, digits=0):
    """Return a proportion (0-1) as a percentage."""
    return formatting.pct(value, int(digits))


@register.filter
def ptext(value):
    """Return a P value as a paper prints it (P = .17, P < .001)."""
    return formatting.p_text(value)


@register.filter
def pval(value):
    """Return a bare P value for a table cell (.17, <.001)."""
    return formatting.pval(value)


@register.filter
def masked(value):
    """Return whether `value` is a count hidden by disclosure control ("<5")."""
    return is_masked(value)


@register.filter
def get(mapping, key):
    """Return mapping[key], or None."""
    if mapping is None:
        return None
    return mapping.get(key)


@register.filter
def in_sentence(label):
    """Return a variable's label as it reads inside a sentence ("ECOG" stays)."""
    return formatting.in_sentence(str(label))


@register.simple_tag
def result_tables(data: dict) -> ReportTables:
    """Return the result's tables, formatted as the PDF and the DOCX print them."""
    return report_tables(data)
