<?php
/**
 * Uninstall: removes the plugin's settings, its webhooks, its product settings and the counters
 * of the Key2print session limits. The design
 * ids on order line items stay: they are part of the orders' history.
 *
 * @package PrintBridge
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

if ( class_exists( 'WC_Webhook' ) ) {
	$printbridge_ids = get_option( 'printbridge_webhook_ids', array() );
	if ( is_array( $printbridge_ids ) ) {
		foreach ( $printbridge_ids as $printbridge_id ) {
			$printbridge_webhook = new WC_Webhook( (int) $printbridge_id );
			if ( $printbridge_webhook->get_id() ) {
				$printbridge_webhook->delete( true );
			}
		}
	}
}

delete_option( 'printbridge_settings' );
delete_option( 'printbridge_spiff' );
wp_clear_scheduled_hook( 'printbridge_refresh_bridge_status' );
delete_option( 'printbridge_webhook_ids' );
delete_option( 'printbridge_webhooks_disabled' );

foreach ( array(
	'_printbridge_provider',
	'_printbridge_spiff_integration_product_id',
	'_printbridge_key2print_template_id',
	'_printbridge_key2print_editor_colors',
	'_printbridge_key2print_hidden_tabs',
	'_printbridge_key2print_gateway',
	'_printbridge_key2print_page_count',
	'_printbridge_key2print_template_format_id',
	'_printbridge_key2print_placeholders',
) as $printbridge_meta_key ) {
	delete_post_meta_by_key( $printbridge_meta_key );
}

// The Key2print session limit counters (transients; with an external object cache they expire
// on their own within the hour).
global $wpdb;
$wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery.DirectQuery,WordPress.DB.DirectDatabaseQuery.NoCaching -- one-off cleanup of the plugin's own transients.
	$wpdb->prepare(
		"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
		$wpdb->esc_like( '_transient_printbridge_k2p_rl_' ) . '%',
		$wpdb->esc_like( '_transient_timeout_printbridge_k2p_rl_' ) . '%'
	)
);
