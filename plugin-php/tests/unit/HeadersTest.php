<?php
// phpcs:ignoreFile

/**
 * The plugin's headers state the WordPress and WooCommerce versions this suite runs on: run on
 * the newest pair, "Tested up to" and "WC tested up to" must reach it; on every pair the
 * "Requires" headers must not exceed it.
 */
class HeadersTest extends PrintBridge_TestCase {

	private static function major_minor( $version ) {
		return implode( '.', array_slice( explode( '.', $version ), 0, 2 ) );
	}

	public function test_headers_cover_the_versions_under_test() {
		$plugin = get_file_data( PRINTBRIDGE_FILE, array( 'requires' => 'Requires at least', 'wc_requires' => 'WC requires at least', 'wc_tested' => 'WC tested up to' ) );
		$readme = get_file_data( PRINTBRIDGE_DIR . 'readme.txt', array( 'requires' => 'Requires at least', 'tested' => 'Tested up to' ) );
		$wp     = self::major_minor( $GLOBALS['wp_version'] );
		$wc     = self::major_minor( WC()->version );

		$this->assertTrue( version_compare( $readme['tested'], $wp, '>=' ), "readme.txt says Tested up to {$readme['tested']}, the suite runs WordPress $wp" );
		$this->assertTrue( version_compare( $plugin['wc_tested'], $wc, '>=' ), "WC tested up to {$plugin['wc_tested']}, the suite runs WooCommerce $wc" );
		$this->assertTrue( version_compare( $plugin['requires'], $wp, '<=' ) );
		$this->assertTrue( version_compare( $plugin['wc_requires'], $wc, '<=' ) );
		$this->assertSame( $plugin['requires'], $readme['requires'] );
	}
}
