<?php
// phpcs:ignoreFile

use Automattic\WooCommerce\StoreApi\Exceptions\RouteException;

class StoreApiTest extends PrintBridge_TestCase {

	const T1 = 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38';

	private function request( array $params ) {
		$r = new WP_REST_Request( 'POST', '/wc/store/v1/cart/add-item' );
		$r->set_header( 'content-type', 'application/json' );
		$r->set_body( wp_json_encode( $params ) );
		return $r;
	}

	public function test_add_item_carries_the_design_into_cart_item_data() {
		$id  = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$key = wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => self::T1 ) ) );
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), WC()->cart->get_cart()[ $key ]['printbridge'] );
		$this->assertSame(
			array( 'personalised' => true, 'provider' => 'spiff', 'design_id' => self::T1 ),
			PrintBridge_Cart::store_api_item_data( WC()->cart->get_cart()[ $key ] )
		);
	}

	public function test_add_item_accepts_the_extensions_form() {
		$id  = $this->product( array( '_printbridge_provider' => 'key2print' ) );
		$key = wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 3, 'extensions' => array( 'printbridge' => array( 'design_id' => 'p-9' ) ) ) ) );
		$this->assertSame( array( 'provider' => 'key2print', 'design_id' => 'p-9' ), WC()->cart->get_cart()[ $key ]['printbridge'] );
	}

	public function test_add_item_without_a_well_formed_design_is_a_400() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		foreach ( array( array(), array( 'printbridge_design_id' => 'nope' ), array( 'printbridge_design_id' => 42 ) ) as $extra ) {
			try {
				wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 1 ) + $extra ) );
				$this->fail( 'expected a RouteException' );
			} catch ( RouteException $e ) {
				$this->assertSame( 'printbridge_design_required', $e->getErrorCode() );
				$this->assertSame( 400, $e->http_status_code );
			}
		}
		$this->assertSame( array(), WC()->cart->get_cart() );
	}

	public function test_block_checkout_writes_the_line_item_meta() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => self::T1 ) ) );
		wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => strtoupper( self::T1 ) ) ) );
		$order = new WC_Order( 5 );
		WC()->checkout->create_order_line_items( $order, WC()->cart );
		$this->assertCount( 2, $order->items );
		$this->assertSame( self::T1, $order->items[0]->get_meta( '_printbridge_spiff_transaction_id' ) );
		$this->assertSame( strtoupper( self::T1 ), $order->items[1]->get_meta( '_printbridge_spiff_transaction_id' ) );
	}

	public function test_classic_validation_stands_aside_for_store_api_requests() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$this->assertFalse( PrintBridge_Cart::validate_add_to_cart( true, $id ) );
		wc_clear_notices();
		WC()->store_api_request = true;
		try {
			// The Store API hooks validate instead (see above); no classic notice is added.
			$this->assertTrue( PrintBridge_Cart::validate_add_to_cart( true, $id ) );
			$this->assertSame( array(), wc_get_notices() );
		} finally {
			WC()->store_api_request = false;
		}
	}

	public function test_plain_products_pass_the_store_api_untouched() {
		$id  = $this->product();
		$key = wcdouble_store_api_add_item( $this->request( array( 'id' => $id, 'quantity' => 1 ) ) );
		$this->assertArrayNotHasKey( 'printbridge', WC()->cart->get_cart()[ $key ] );
		$this->assertSame( array( 'personalised' => false, 'provider' => null, 'design_id' => null ), PrintBridge_Cart::store_api_item_data( WC()->cart->get_cart()[ $key ] ) );
	}
}
