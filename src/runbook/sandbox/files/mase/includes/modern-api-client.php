<?php
/**
 * The modern API client, new in 2.1.0. It carries the sandbox's incident: when the site's
 * mase_sandbox_fault option is "rest", requests it serves log PHP warnings and die with a fatal
 * error (for the visitors inside its rollout percentage); when it is "load", the plugin dies
 * while loading and takes wp-admin down with it.
 */

defined('ABSPATH') || exit;

function mase_modern_fault() {
    $fault = get_option('mase_sandbox_fault', '');
    return is_string($fault) ? $fault : '';
}

if (mase_modern_fault() === 'load') {
    error_log('MASE: modern API client failed to boot');
    mase_modern_client_boot(MASE_VERSION);
}

add_filter('mase_rest_dispatch', function ($result, $callback, WP_REST_Request $request) {
    // The visitor (sandbox traffic sends X-MASE-User) decides the rollout bucket: at a 10%
    // rollout about a tenth of the visitors get the modern client, and its faults.
    $user = $request->get_header('x_mase_user');
    $subject = (is_string($user) && $user !== '') ? $user : null;
    if ($result !== null || !mase_feature_enabled('modern_api_client', $subject)) {
        return $result;
    }
    if (mase_modern_fault() === 'rest') {
        $envelope = [];
        $payload = $envelope['payload'];
        $meta = $envelope['meta']['request_id'];
        error_log('MASE: modern API client lost its envelope for ' . $request->get_route());
        return mase_modern_client_dispatch($payload, $meta);
    }
    return call_user_func($callback, $request);
}, 10, 3);

/**
 * The modern preview's front-end script, new in 2.1.0. With the "frontend" fault, 2.1.0 asks
 * for a script it forgot to ship and then calls into it: the visitor's browser shows a 404
 * and an uncaught TypeError (PHP and nginx log nothing of it).
 */
function mase_modern_preview_script() {
    if (mase_modern_fault() !== 'frontend' || !mase_feature_enabled('modern_preview_engine')) {
        return;
    }
    $src = plugins_url('assets/modern-preview.js', MASE_DIR . '/mase.php');
    echo '<script src="' . esc_url($src) . '"></script>' . "\n";
    echo "<script>window.masePreview.palette.apply(" . wp_json_encode(mase_get_settings()) . ");</script>\n";
}
add_action('wp_footer', 'mase_modern_preview_script');
add_action('login_footer', 'mase_modern_preview_script');
