"""Counting the statements a test captured (CaptureQueriesContext)."""

#: Statements that set or end something rather than read or write rows.
NOT_READS = ("SET ", "RESET ", "SAVEPOINT ", "RELEASE SAVEPOINT ")


def read_statements(queries) -> list[str]:
    """Return the captured statements that read or write rows: not a SET, a
    RESET or a savepoint (PostgreSQL's planner setting for one statement,
    analytics.dataset.variable_counts, comes with all three)."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].lstrip().upper().startswith(NOT_READS)
    ]


def reads(queries) -> int:
    """Return how many captured statements read or write rows."""
    return len(read_statements(queries))
