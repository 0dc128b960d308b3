"""Letters to customers as Word documents, from templates a council can edit.

Depends on `policy` only: the content is worked out from plain data, then poured into the
template, in normal and large print.
"""
