<?php
// phpcs:ignoreFile

/**
 * The Key2print gateway cache flush on every path that changes a product's catalog data: one
 * call per product per request, only for Key2print products, counted at the bridge's door
 * (the requests the plugin sends).
 */
class Key2printFlushTest extends PrintBridge_TestCase {

	protected function setUp(): void {
		parent::setUp();
		PrintBridge_Key2print_Flush::reset();
		$this->connect();
		$this->responder = function () {
			return self::response( 200, array( 'flushed' => true ) );
		};
	}

	protected function tearDown(): void {
		PrintBridge_Key2print_Flush::reset();
		parent::tearDown();
	}

	/** Runs what shutdown runs; returns the product ids flushed at the bridge, in order. */
	private function flushed() {
		PrintBridge_Key2print_Flush::send();
		$ids = array();
		foreach ( $this->requests as $r ) {
			if ( 'https://bridge.test/v1/stores/shop/key2print/cache/flush' === $r['url'] ) {
				$this->assertSame( 'POST', $r['args']['method'] );
				$ids[] = json_decode( $r['args']['body'], true )['product_id'];
			}
		}
		$this->requests = array();
		return $ids;
	}

	/** A Key2print product whose creation has been flushed already. */
	private function k2p_product() {
		$id = $this->product( array( '_printbridge_provider' => 'key2print' ) );
		$this->assertSame( array( $id ), $this->flushed(), 'creating a Key2print product flushes it' );
		PrintBridge_Key2print_Flush::reset();
		return $id;
	}

	public function test_several_changes_in_one_request_flush_once() {
		$id      = $this->k2p_product();
		$product = wc_get_product( $id );
		$product->set_regular_price( '12' );
		$product->save();
		$product->set_name( 'Card, renamed' );
		$product->save();
		do_action( 'woocommerce_product_quick_edit_save', $product );
		$this->assertSame( array( $id ), PrintBridge_Key2print_Flush::pending() );
		$this->assertSame( array( $id ), $this->flushed() );
		// Flushed once: later changes in the same request send nothing more.
		$product->set_regular_price( '13' );
		$product->save();
		$this->assertSame( array(), $this->flushed() );
	}

	public function test_products_not_made_with_key2print_are_never_flushed() {
		$plain = $this->product();
		$spiff = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		foreach ( array( $plain, $spiff ) as $id ) {
			$product = wc_get_product( $id );
			$product->set_regular_price( '11' );
			$product->save();
			wc_update_product_stock( $product, 4 );
			wp_trash_post( $id );
		}
		$this->assertSame( array(), $this->flushed() );
	}

	public function test_a_variation_saved_through_ajax_flushes_its_parent() {
		list( $parent, $variations ) = $this->variable_product( array( '_printbridge_provider' => 'key2print' ) );
		PrintBridge_Key2print_Flush::reset();
		$this->requests = array();
		// What WC_Meta_Box_Product_Data::save_variations() does per variation on "Save changes".
		$variation = wc_get_product( $variations['A4'] );
		$variation->set_regular_price( '22' );
		$variation->save();
		do_action( 'woocommerce_save_product_variation', $variations['A4'], 0 );
		$this->assertSame( array( $parent ), $this->flushed() );
	}

	public function test_a_rest_update_flushes() {
		$id = $this->k2p_product();
		$this->admin();
		$request = new WP_REST_Request( 'PUT', '/wc/v3/products/' . $id );
		$request->set_body_params( array( 'regular_price' => '14.50' ) );
		$response = rest_do_request( $request );
		$this->assertSame( 200, $response->get_status(), wp_json_encode( $response->get_data() ) );
		$this->assertSame( array( $id ), $this->flushed() );
	}

	public function test_a_csv_import_flushes() {
		$id = $this->k2p_product();
		$this->admin();
		include_once WC_ABSPATH . 'includes/import/class-wc-product-csv-importer.php';
		$file = get_temp_dir() . 'printbridge-import-' . wp_generate_password( 8, false ) . '.csv';
		file_put_contents( $file, "ID,Regular price\n{$id},17\n" );
		$importer = new WC_Product_CSV_Importer(
			$file,
			array(
				'update_existing' => true,
				'mapping'         => array( 'ID' => 'id', 'Regular price' => 'regular_price' ),
				'parse'           => true,
			)
		);
		$result = $importer->import();
		unlink( $file );
		$this->assertCount( 1, $result['updated'], wp_json_encode( $result ) );
		$this->assertSame( '17', wc_get_product( $id )->get_regular_price() );
		$this->assertSame( array( $id ), $this->flushed() );
	}

	public function test_stock_changes_flush() {
		$id      = $this->k2p_product();
		$product = wc_get_product( $id );
		$product->set_manage_stock( true );
		$product->set_stock_quantity( 5 );
		$product->save();
		$this->assertSame( array( $id ), $this->flushed() );
		PrintBridge_Key2print_Flush::reset();
		// What an order's stock reduction calls.
		wc_update_product_stock( $id, 2, 'decrease' );
		$this->assertSame( 3, wc_get_product( $id )->get_stock_quantity() );
		$this->assertSame( array( $id ), $this->flushed() );
	}

	public function test_a_scheduled_sale_start_flushes() {
		$id      = $this->k2p_product();
		$product = wc_get_product( $id );
		$product->set_sale_price( '8' );
		$product->set_date_on_sale_from( gmdate( 'Y-m-d', time() - DAY_IN_SECONDS ) );
		$product->set_date_on_sale_to( gmdate( 'Y-m-d', time() + 7 * DAY_IN_SECONDS ) );
		$product->save();
		// The sale is due but not applied yet: the price the daily run starts it with.
		update_post_meta( $id, '_price', '10' );
		wc_delete_product_transients( $id );
		PrintBridge_Key2print_Flush::reset();
		$this->requests = array();
		wc_scheduled_sales();
		$this->assertSame( '8', get_post_meta( $id, '_price', true ) );
		$this->assertSame( array( $id ), $this->flushed() );
	}

	public function test_trash_and_deletion_flush() {
		$id = $this->k2p_product();
		wp_trash_post( $id );
		$this->assertSame( array( $id ), $this->flushed() );
		PrintBridge_Key2print_Flush::reset();
		$other = $this->k2p_product();
		wc_get_product( $other )->delete( true );
		$this->assertSame( array( $other ), $this->flushed() );
	}

	public function test_a_failing_bridge_does_not_stop_the_other_flushes() {
		$a = $this->k2p_product();
		$b = $this->k2p_product();
		$this->responder = function ( $url, $args ) use ( $a ) {
			$body = json_decode( $args['body'], true );
			return $body['product_id'] === $a ? new WP_Error( 'http_request_failed', 'refused' ) : self::response( 200, array( 'flushed' => true ) );
		};
		PrintBridge_Key2print_Flush::queue( $a );
		PrintBridge_Key2print_Flush::queue( $b );
		$results = PrintBridge_Key2print_Flush::send();
		$this->assertTrue( is_wp_error( $results[ $a ] ) );
		$this->assertSame( array( 'flushed' => true ), $results[ $b ] );
	}
}
