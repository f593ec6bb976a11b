<?php
/** Admin colour settings, stored in the mase_settings option. */

defined('ABSPATH') || exit;

function mase_default_settings() {
    return [
        'menu_background' => '#23282d',
        'menu_text' => '#eeeeee',
        'highlight' => '#0073aa',
        'template' => 'default',
    ];
}

function mase_get_settings() {
    $stored = get_option('mase_settings', []);
    return array_merge(mase_default_settings(), is_array($stored) ? $stored : []);
}

/**
 * Validate and store settings; returns the stored settings or a WP_Error naming the bad field.
 */
function mase_save_settings(array $input) {
    $settings = mase_get_settings();
    foreach ($input as $key => $value) {
        if (!array_key_exists($key, $settings)) {
            return new WP_Error('mase_unknown_setting', "Unknown setting: $key", ['status' => 400]);
        }
        if ($key !== 'template' && !preg_match('/^#[0-9a-fA-F]{6}$/', (string) $value)) {
            error_log("MASE: rejected colour for $key");
            return new WP_Error('mase_bad_colour', "Not a colour (#rrggbb): $key", ['status' => 400]);
        }
        $settings[$key] = strtolower((string) $value);
    }
    update_option('mase_settings', $settings);
    if (mase_feature_enabled('modern_state_manager')) {
        // The modern state manager keeps a revision counter the preview engine polls.
        update_option('mase_state_revision', (int) get_option('mase_state_revision', 0) + 1);
    }
    return mase_get_settings();
}
