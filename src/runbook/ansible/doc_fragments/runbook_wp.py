# -*- coding: utf-8 -*-
"""The WP-CLI options every wp_* module takes (runbook_wp.wp_argument_spec), documented once."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  path:
    description: The WordPress root (C(--path)).
    type: path
    required: true
  wp_bin:
    description: The WP-CLI executable.
    type: str
    default: wp
  allow_root:
    description:
      - Pass C(--allow-root). Deliberate only; run as the site owner otherwise.
    type: bool
    default: false
  url:
    description: The site URL (C(--url)), for multisite.
    type: str
"""
