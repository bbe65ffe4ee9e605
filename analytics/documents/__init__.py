"""A report as a document: the tables and text the page, the PDF and the DOCX share.

:mod:`analytics.documents.tables` turns a result (``export.result_json``'s data)
into formatted tables and paragraphs, once; :mod:`~analytics.documents.pdf`
typesets them with ReportLab and :mod:`~analytics.documents.docx` writes them as
a Word document. Nothing here reads the database: a live result and a stored run
print the same.
"""
