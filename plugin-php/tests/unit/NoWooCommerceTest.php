<?php
// phpcs:ignoreFile

class NoWooCommerceTest extends PrintBridge_TestCase {

	public function test_without_woocommerce_there_is_a_notice_and_no_fatal_error() {
		exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( dirname( __DIR__ ) . '/shop/no-woocommerce.php' ) . ' ' . escapeshellarg( PRINTBRIDGE_TEST_SHOP_DIR ) . ' 2>&1', $out, $code );
		$text = implode( "\n", $out );
		$this->assertSame( 0, $code, $text );
		$this->assertStringContainsString( 'WOOCOMMERCE:absent', $text );
		$this->assertStringContainsString( 'PrintBridge needs WooCommerce.', $text );
		$this->assertStringContainsString( 'CART-HOOKED:no', $text );
	}
}
