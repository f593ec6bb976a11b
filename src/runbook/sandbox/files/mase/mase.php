<?php
/**
 * Plugin Name: MASE - Modern Admin Styler
 * Description: Admin colour schemes, templates and a live preview, behind feature flags.
 * Version: @VERSION@
 * Requires PHP: 7.4
 * Text Domain: mase
 */

defined('ABSPATH') || exit;

define('MASE_VERSION', '@VERSION@');
define('MASE_DIR', __DIR__);

require_once MASE_DIR . '/includes/flags.php';
require_once MASE_DIR . '/includes/settings.php';
require_once MASE_DIR . '/includes/templates.php';
require_once MASE_DIR . '/includes/rest.php';
require_once MASE_DIR . '/includes/admin.php';
if (file_exists(MASE_DIR . '/includes/modern-api-client.php')) {
    require_once MASE_DIR . '/includes/modern-api-client.php';
}
