"""Ansible plugins shipped with runbook: modules, module_utils, filters, the doc fragment and
the record callback.

They are the runbook.wordpress collection's sources (runbook.collection assembles it; every
run uses the assembled copy); the module_utils are also plain Python, importable as
`runbook.ansible.module_utils.*` for the controller and the tests.
"""
