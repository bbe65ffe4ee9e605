"""Template filters that print report numbers as a paper does."""

from django import template

from analytics.disclosure import is_masked
from analytics.plots import p_text
from analytics.text import in_sentence as _in_sentence

register = template.Library()
DASH = "–"


@register.filter
def num(value, digits=1):
    """Return a number to `digits` decimals, a dash for None, a hidden count as is."""
    if value is None or value == "":
        return DASH
    if is_masked(value):
        return value
    return f"{float(value):.{int(digits)}f}"


@register.filter
def pct(value, digits=0):
    """Return a proportion (0-1) as a percentage."""
    if value is None:
        return DASH
    if is_masked(value):
        return value
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def ptext(value):
    """Return a P value as a paper prints it (P = .17, P < .001)."""
    return p_text(value)


@register.filter
def pval(value):
    """Return a bare P value for a table cell (.17, <.001)."""
    if value is None:
        return DASH
    return p_text(value).removeprefix("P = ").removeprefix("P ")


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
    return _in_sentence(str(label))
