<?php
/** The admin side: the colour scheme applied to wp-admin, and a settings page. */

defined('ABSPATH') || exit;

add_action('admin_head', function () {
    $s = mase_get_settings();
    printf(
        '<style id="mase-%s">#adminmenu,#adminmenuback,#adminmenuwrap{background:%s}#adminmenu a{color:%s}#adminmenu .current a{background:%s}</style>',
        esc_attr(mase_engines()['preview']),
        esc_attr($s['menu_background']),
        esc_attr($s['menu_text']),
        esc_attr($s['highlight'])
    );
});

add_action('admin_menu', function () {
    add_options_page('MASE', 'MASE', 'manage_options', 'mase', function () {
        $s = mase_get_settings();
        echo '<div class="wrap"><h1>MASE ' . esc_html(MASE_VERSION) . '</h1><ul>';
        foreach ($s as $key => $value) {
            echo '<li>' . esc_html($key) . ': ' . esc_html($value) . '</li>';
        }
        echo '</ul></div>';
    });
});
