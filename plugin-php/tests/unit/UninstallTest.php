<?php
// phpcs:ignoreFile

class UninstallTest extends PrintBridge_TestCase {

	public function test_uninstall_removes_settings_webhooks_and_product_settings_but_not_order_data() {
		$admin = $this->admin();
		$this->connect();
		PrintBridge_Webhooks::sync( $admin->ID );
		$other = self::other_webhook();
		$product = $this->product( array( '_printbridge_provider' => 'spiff', '_printbridge_spiff_integration_product_id' => 'ip', '_sku' => 'MUG-1' ) );
		$this->assertSame( 0, PrintBridge_Product_Page::take_session_slot( 'ip:192.0.2.1', true ) );
		set_transient( 'someone_elses_counter', 3, 60 );

		if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
			define( 'WP_UNINSTALL_PLUGIN', 'printbridge/printbridge.php' );
		}
		include WP_PLUGIN_DIR . '/printbridge/uninstall.php';

		$this->assertFalse( get_option( PrintBridge_Settings::OPTION ) );
		$this->assertFalse( get_option( PrintBridge_Webhooks::OPTION_IDS ) );
		$this->assertSame( array( $other->get_id() ), array_keys( self::webhooks() ) );
		$this->assertSame( '', get_post_meta( $product, '_printbridge_provider', true ) );
		$this->assertSame( '', get_post_meta( $product, '_printbridge_spiff_integration_product_id', true ) );
		$this->assertSame( 'MUG-1', get_post_meta( $product, '_sku', true ) );
		global $wpdb;
		$this->assertSame( '0', $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->options} WHERE option_name LIKE '%printbridge\\_k2p\\_rl\\_%'" ) );
		$this->assertSame( 3, (int) get_transient( 'someone_elses_counter' ) );
	}
}
