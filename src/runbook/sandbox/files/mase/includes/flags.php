<?php
/** Feature flags (mase_feature_flags) and gradual rollout (mase_feature_rollout_percentages). */

defined('ABSPATH') || exit;

function mase_flags() {
    $flags = get_option('mase_feature_flags', []);
    return is_array($flags) ? $flags : [];
}

/** Whether a subject (a user id) falls inside a feature's rollout percentage. */
function mase_in_rollout($feature, $subject = null) {
    $percentages = get_option('mase_feature_rollout_percentages', []);
    $pct = (is_array($percentages) && isset($percentages[$feature])) ? (int) $percentages[$feature] : 100;
    if ($pct >= 100) {
        return true;
    }
    if ($pct <= 0) {
        return false;
    }
    $subject = $subject === null ? (string) get_current_user_id() : (string) $subject;
    return (crc32($feature . '|' . $subject) % 100) < $pct;
}

function mase_feature_enabled($feature, $subject = null) {
    $flags = mase_flags();
    if (!empty($flags['legacy_fallback'])) {
        return false;
    }
    return !empty($flags[$feature]) && mase_in_rollout($feature, $subject);
}

/** Which engine serves each part of the plugin right now. */
function mase_engines($subject = null) {
    return [
        'preview' => mase_feature_enabled('modern_preview_engine', $subject) ? 'modern' : 'legacy',
        'state' => mase_feature_enabled('modern_state_manager', $subject) ? 'modern' : 'legacy',
        'api' => mase_feature_enabled('modern_api_client', $subject) ? 'modern' : 'legacy',
    ];
}
