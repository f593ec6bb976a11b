<?php
/** REST routes under /wp-json/mase/v1/. */

defined('ABSPATH') || exit;

/** Writes need an administrator, or the site's API token in the X-MASE-Token header. */
function mase_rest_can_write(WP_REST_Request $request) {
    if (current_user_can('manage_options')) {
        return true;
    }
    $token = get_option('mase_api_token');
    $given = $request->get_header('x_mase_token');
    return is_string($token) && $token !== '' && is_string($given) && hash_equals($token, $given);
}

function mase_rest_respond($callback, WP_REST_Request $request) {
    $result = apply_filters('mase_rest_dispatch', null, $callback, $request);
    if ($result === null) {
        $result = call_user_func($callback, $request);
    }
    return is_wp_error($result) ? $result : rest_ensure_response($result);
}

add_action('rest_api_init', function () {
    $route = function ($path, $methods, $callback, $permission) {
        register_rest_route('mase/v1', $path, [
            'methods' => $methods,
            'callback' => function (WP_REST_Request $request) use ($callback) {
                return mase_rest_respond($callback, $request);
            },
            'permission_callback' => $permission,
        ]);
    };
    $route('/status', 'GET', function () {
        return ['version' => MASE_VERSION, 'engines' => mase_engines(), 'flags' => mase_flags()];
    }, '__return_true');
    $route('/settings', 'GET', function () {
        return mase_get_settings();
    }, 'mase_rest_can_write');
    $route('/settings', 'POST', function (WP_REST_Request $request) {
        $input = $request->get_json_params();
        return mase_save_settings(is_array($input) ? $input : []);
    }, 'mase_rest_can_write');
    $route('/templates', 'GET', function () {
        return array_keys(mase_templates());
    }, '__return_true');
    $route('/templates/(?P<name>[a-z0-9-]+)/apply', 'POST', function (WP_REST_Request $request) {
        return mase_apply_template($request['name']);
    }, 'mase_rest_can_write');
});
