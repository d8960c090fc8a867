<?php
// phpcs:ignoreFile

/**
 * The product panel's Key2print pickers: lists read from the bridge through an AJAX action
 * (nonce + capability), typed ids kept when the lists cannot load.
 */
class Key2printPickersTest extends PrintBridge_TestCase {

	const BASE = 'https://bridge.test/v1/stores/shop/key2print/';

	private function ask( array $post = array() ) {
		$_POST = $_REQUEST = $post + array( 'nonce' => wp_create_nonce( PrintBridge_Key2print_Lists::AJAX ) );
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Key2print_Lists', 'ajax' ) );
		$_POST = $_REQUEST = array();
		return array( $json, $raw );
	}

	private function bridge_lists() {
		$this->responder = function ( $url ) {
			$path = substr( strtok( $url, '?' ), strlen( self::BASE ) );
			$lists = array(
				'template-formats' => array( 'template_formats' => array( array( 'id' => 'fmt-a5', 'name' => 'Page A5', 'page_width' => 148, 'page_height' => 210, 'is_default' => false, 'template_count' => 1 ) ), 'truncated' => false ),
				'templates'        => array( 'templates' => array( array( 'id' => 'tpl-1', 'name' => 'Flyer <b>1</b>', 'description' => null, 'template_format_id' => 'fmt-a5', 'template_format_name' => 'Page A5' ) ), 'truncated' => false ),
				'placeholders'     => array( 'placeholders' => array( array( 'id' => 'p1', 'name' => 'Your company name', 'system_name' => 'company_name', 'type' => 'text', 'accepted_parameters' => array( 'value' ) ) ), 'truncated' => true ),
			);
			return isset( $lists[ $path ] ) ? self::response( 200, $lists[ $path ] ) : self::response( 404, array( 'error' => 'not_found' ) );
		};
	}

	private function panel_html( $product_id ) {
		$GLOBALS['post'] = get_post( $product_id );
		ob_start();
		do_action( 'woocommerce_product_data_panels' );
		$html = ob_get_clean();
		unset( $GLOBALS['post'] );
		return $html;
	}

	public function test_the_lists_come_from_the_bridge_for_product_editors() {
		$this->connect();
		$this->bridge_lists();
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'], 'logged out' );
		$this->assertCount( 0, $this->requests );

		$this->admin();
		list( $json ) = $this->ask( array( 'nonce' => 'deadbeef00' ) );
		$this->assertFalse( $json['success'] );
		$this->assertCount( 0, $this->requests );

		list( $json, $raw ) = $this->ask();
		$this->assertTrue( $json['success'], $raw );
		$this->assertSame( array( array( 'id' => 'fmt-a5', 'name' => 'Page A5' ) ), $json['data']['template_formats'] );
		$this->assertSame( array( array( 'id' => 'tpl-1', 'name' => 'Flyer 1', 'template_format_id' => 'fmt-a5', 'template_format_name' => 'Page A5' ) ), $json['data']['templates'] );
		$this->assertSame( array( array( 'system_name' => 'company_name', 'name' => 'Your company name' ) ), $json['data']['placeholders'] );
		$this->assertTrue( $json['data']['truncated'] );
		$urls = wp_list_pluck( $this->requests, 'url' );
		$this->assertSame( array( self::BASE . 'template-formats', self::BASE . 'templates', self::BASE . 'placeholders' ), $urls );
		$this->assertSame( 'Bearer tok_secret_123', $this->requests[0]['args']['headers']['Authorization'] );
		$this->assertStringNotContainsString( 'tok_secret_123', $raw );

		// "Reload" reads them from Key2print again.
		$this->requests = array();
		$this->ask( array( 'refresh' => '1' ) );
		$this->assertSame( self::BASE . 'template-formats?refresh=true', $this->requests[0]['url'] );
	}

	public function test_a_failure_is_shown_plainly_and_the_typed_ids_stay() {
		$this->admin();
		$this->connect();
		$id = $this->product(
			array(
				'_printbridge_provider'                     => 'key2print',
				'_printbridge_key2print_template_id'        => 'tpl-typed-7',
				'_printbridge_key2print_template_format_id' => 'fmt-typed',
			)
		);
		$this->responder = function ( $url ) {
			if ( self::BASE . 'cache/flush' === $url ) {
				return self::response( 200, array( 'flushed' => true ) );
			}
			return self::response( 502, array( 'error' => 'provider_error', 'message' => 'could not list Key2print template formats: Key2print answered HTTP 500' ) );
		};
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$this->assertSame( 'The bridge answered 502: could not list Key2print template formats: Key2print answered HTTP 500', $json['data']['message'] );

		// The panel keeps the typed ids in their fields; the pickers sit beside them.
		$html = $this->panel_html( $id );
		$this->assertMatchesRegularExpression( '/id="printbridge_k2p_template_id"[^>]*value="tpl-typed-7"|value="tpl-typed-7"[^>]*id="printbridge_k2p_template_id"/', $html );
		$this->assertMatchesRegularExpression( '/id="printbridge_k2p_template_format_id"[^>]*value="fmt-typed"|value="fmt-typed"[^>]*id="printbridge_k2p_template_format_id"/', $html );
		$this->assertStringContainsString( 'data-target="printbridge_k2p_template_id" data-list="templates"', $html );
		$this->assertStringContainsString( 'data-target="printbridge_k2p_template_format_id" data-list="template_formats"', $html );
		$this->assertStringContainsString( 'id="printbridge-k2p-lists-status"', $html );
		$this->assertTrue( wp_script_is( 'printbridge-k2p-pickers', 'enqueued' ) );

		// Saving the form as it is keeps the typed ids.
		$_POST = array(
			'printbridge_product_nonce'          => wp_create_nonce( PrintBridge_Product_Admin::NONCE ),
			'printbridge_provider'               => 'key2print',
			'printbridge_k2p_template_id'        => 'tpl-typed-7',
			'printbridge_k2p_template_format_id' => 'fmt-typed',
		);
		do_action( 'woocommerce_process_product_meta', $id );
		$this->assertSame( 'tpl-typed-7', get_post_meta( $id, '_printbridge_key2print_template_id', true ) );
		$this->assertSame( 'fmt-typed', get_post_meta( $id, '_printbridge_key2print_template_format_id', true ) );
	}

	public function test_key2print_missing_on_the_bridge_is_said_plainly() {
		$this->admin();
		$this->connect();
		$this->responder = function () {
			return self::response( 409, array( 'error' => 'key2print_not_configured', 'message' => 'store shop has no [stores.key2print] section', 'field' => 'store' ) );
		};
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$this->assertStringStartsWith( 'Key2print is not set up on the bridge for this store', $json['data']['message'] );
	}

	public function test_chosen_placeholders_are_filled_from_the_customer() {
		$this->connect();
		$id = $this->product(
			array(
				'_printbridge_provider'               => 'key2print',
				'_printbridge_key2print_placeholders' => '{"company_name":"company","contact":"email","fax":"phone"}',
			)
		);
		WC()->customer->set_billing_company( 'Analytical Engines Ltd' );
		$user             = new WP_User( 0 );
		$user->ID         = 77;
		$user->user_email = 'ada@example.test';
		$user->first_name = 'Ada';
		$user->last_name  = 'Lovelace';
		$body = PrintBridge_Product_Page::key2print_session_request( wc_get_product( $id ), $user, '' );
		WC()->customer->set_billing_company( '' );
		$this->assertEquals(
			(object) array(
				'customer_name' => array( 'value' => 'Ada Lovelace' ),
				'company_name'  => array( 'value' => 'Analytical Engines Ltd' ),
				'contact'       => array( 'value' => 'ada@example.test' ),
			),
			$body['placeholder_values']
		);
	}
}
