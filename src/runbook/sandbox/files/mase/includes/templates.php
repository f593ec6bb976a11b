<?php
/** Templates: named sets of settings applied in one step. */

defined('ABSPATH') || exit;

function mase_templates() {
    return [
        'default' => ['menu_background' => '#23282d', 'menu_text' => '#eeeeee', 'highlight' => '#0073aa'],
        'ocean' => ['menu_background' => '#0b3954', 'menu_text' => '#e0f2f1', 'highlight' => '#087e8b'],
        'midnight' => ['menu_background' => '#111111', 'menu_text' => '#cccccc', 'highlight' => '#ff5a5f'],
        'sunrise' => ['menu_background' => '#f4a259', 'menu_text' => '#2b2d42', 'highlight' => '#bc4b51'],
    ];
}

function mase_apply_template($name) {
    $templates = mase_templates();
    if (!isset($templates[$name])) {
        return new WP_Error('mase_unknown_template', "Unknown template: $name", ['status' => 404]);
    }
    $settings = mase_save_settings($templates[$name]);
    if (is_wp_error($settings)) {
        return $settings;
    }
    $settings['template'] = $name;
    update_option('mase_settings', $settings);
    return $settings;
}
