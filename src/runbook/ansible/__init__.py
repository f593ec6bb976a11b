"""Ansible plugins shipped with runbook: modules, module_utils, filters and callbacks.

Ansible loads these by path (ANSIBLE_LIBRARY, ANSIBLE_MODULE_UTILS, ...); the module_utils are
also plain Python, importable as `runbook.ansible.module_utils.*` for tests.
"""
