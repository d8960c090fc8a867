<?php
/**
 * Plugin Name: PrintBridge test shop
 * Description: Test-shop settings: webhooks may reach loopback hosts on any port, webhooks are sent
 * synchronously when PRINTBRIDGE_TEST_WEBHOOKS_SYNC is true, wp_mail() writes to
 * wp-content/mail.log instead of sending, and WordPress does not look for updates (it cannot
 * reach WordPress.org and would log a warning each time).
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

/** Whether a URL's host is this machine. */
function printbridge_test_shop_is_loopback( $host ) {
	return in_array( strtolower( (string) $host ), array( '127.0.0.1', 'localhost', '::1', '[::1]' ), true );
}

// wp_safe_remote_request() (webhook delivery) refuses loopback hosts and ports other than 80/443/8080.
add_filter(
	'http_request_host_is_external',
	static function ( $external, $host ) {
		return $external || printbridge_test_shop_is_loopback( $host );
	},
	10,
	2
);
add_filter(
	'http_allowed_safe_ports',
	static function ( $ports, $host, $url ) {
		$port = parse_url( $url, PHP_URL_PORT );
		if ( $port && printbridge_test_shop_is_loopback( $host ) ) {
			$ports[] = (int) $port;
		}
		return $ports;
	},
	10,
	3
);

if ( defined( 'PRINTBRIDGE_TEST_WEBHOOKS_SYNC' ) && PRINTBRIDGE_TEST_WEBHOOKS_SYNC ) {
	add_filter( 'woocommerce_webhook_deliver_async', '__return_false' );
}

// No mail server: record each message as one JSON line.
add_filter(
	'pre_wp_mail',
	static function ( $short_circuit, $atts ) {
		$line = wp_json_encode(
			array(
				'to'      => $atts['to'],
				'subject' => $atts['subject'],
			)
		);
		file_put_contents( WP_CONTENT_DIR . '/mail.log', $line . "\n", FILE_APPEND | LOCK_EX );
		return true;
	},
	10,
	2
);

// No update checks: the shop has no way out to WordPress.org.
add_action(
	'init',
	static function () {
		remove_action( 'admin_init', '_maybe_update_core' );
		remove_action( 'admin_init', '_maybe_update_plugins' );
		remove_action( 'admin_init', '_maybe_update_themes' );
		remove_action( 'wp_version_check', 'wp_version_check' );
		remove_action( 'wp_update_plugins', 'wp_update_plugins' );
		remove_action( 'wp_update_themes', 'wp_update_themes' );
		remove_action( 'load-plugins.php', 'wp_update_plugins' );
		remove_action( 'load-themes.php', 'wp_update_themes' );
		remove_action( 'load-update-core.php', 'wp_update_plugins' );
		remove_action( 'load-update.php', 'wp_update_plugins' );
	}
);
