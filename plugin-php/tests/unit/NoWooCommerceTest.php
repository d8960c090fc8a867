<?php
// phpcs:ignoreFile

class NoWooCommerceTest extends PrintBridge_TestCase {

	public function test_without_woocommerce_there_is_a_notice_and_no_fatal_error() {
		exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( dirname( __DIR__ ) . '/wp/no-woocommerce.php' ) . ' 2>/dev/null', $out, $code );
		$text = implode( "\n", $out );
		$this->assertSame( 0, $code, $text );
		$this->assertStringContainsString( 'PrintBridge needs WooCommerce.', $text );
		$this->assertStringContainsString( 'CART-HOOKED:no', $text );
	}
}
