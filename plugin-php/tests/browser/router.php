<?php
/**
 * Router of the browser-test shop (`php -S`): renders product pages the way WooCommerce's
 * single-product add-to-cart template does, with PrintBridge's real hooks and scripts, serves
 * the plugin's assets and the editor stand-ins, answers admin-ajax, and shows what an
 * add-to-cart submission carried and whether PrintBridge's validation accepted it.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );

$static = array(
	'#^/plugins/(printbridge/assets/[A-Za-z0-9/_.-]+)$#' => dirname( __DIR__, 2 ) . '/',
	'#^/stand-ins/([a-z0-9-]+\.js)$#'                  => __DIR__ . '/stand-ins/',
);
foreach ( $static as $re => $dir ) {
	if ( preg_match( $re, $path, $m ) && false === strpos( $m[1], '..' ) && is_file( $dir . $m[1] ) ) {
		header( 'Content-Type: ' . ( '.css' === substr( $m[1], -4 ) ? 'text/css' : 'application/javascript' ) );
		readfile( $dir . $m[1] );
		return true;
	}
}

if ( '/wp-admin/admin-ajax.php' === $path ) {
	define( 'DOING_AJAX', true );
	require dirname( __DIR__ ) . '/wp/load.php';
	$action = isset( $_REQUEST['action'] ) ? sanitize_key( $_REQUEST['action'] ) : '';
	do_action( ( is_user_logged_in() ? 'wp_ajax_' : 'wp_ajax_nopriv_' ) . $action );
	wp_die( '0', 400 );
}

require dirname( __DIR__ ) . '/wp/load.php';

if ( '/cart' === $path && 'POST' === $_SERVER['REQUEST_METHOD'] ) {
	$product_id = isset( $_POST['add-to-cart'] ) ? absint( $_POST['add-to-cart'] ) : 0;
	$quantity   = isset( $_POST['quantity'] ) ? absint( $_POST['quantity'] ) : 0;
	$passed     = apply_filters( 'woocommerce_add_to_cart_validation', true, $product_id, $quantity );
	$key        = $passed ? WC()->cart->add_to_cart( $product_id, $quantity ) : '';
	$item       = $key ? WC()->cart->get_cart()[ $key ] : array();
	$result     = array(
		'posted'  => wp_unslash( $_POST ),
		'passed'  => (bool) $passed,
		'notices' => wp_list_pluck( wc_get_notices(), 'message' ),
		'item'    => isset( $item['printbridge'] ) ? $item['printbridge'] : null,
	);
	echo '<!doctype html><html><head><meta charset="utf-8"><title>Cart</title></head><body><h1>Cart</h1><pre id="submitted">' . esc_html( wp_json_encode( $result, JSON_PRETTY_PRINT ) ) . '</pre></body></html>';
	return true;
}

if ( preg_match( '#^/product/(\d+)$#', $path, $m ) ) {
	$GLOBALS['product'] = wc_get_product( (int) $m[1] );
	$product            = $GLOBALS['product'];
	if ( ! $product ) {
		http_response_code( 404 );
		return true;
	}
	PrintBridge_Product_Page::enqueue_for( $product );
	$k2p = 'key2print' === PrintBridge_Product_Settings::provider( $product );
	?><!doctype html>
<html><head><meta charset="utf-8"><title><?php echo esc_html( $product->get_name() ); ?></title>
<style>body{font-family:sans-serif;max-width:760px;margin:2em auto}.button{padding:.5em 1em}label{display:block;margin:.5em 0}</style>
<?php wp_print_styles(); wp_print_head_scripts(); ?>
</head><body class="single-product">
<div class="product"><h1 class="product_title"><?php echo esc_html( $product->get_name() ); ?></h1>
<form class="cart<?php echo $k2p ? ' variations_form' : ''; ?>" action="/cart" method="post" enctype="multipart/form-data">
<?php if ( $k2p ) : ?>
<table class="variations"><tr><th><label for="pa_format">Format</label></th><td>
<select id="pa_format" name="attribute_pa_format" data-attribute_name="attribute_pa_format"><option value="">Choose an option</option><option value="a4" selected>A4</option><option value="a5">A5</option></select>
</td></tr><tr><th><label for="finish">Finish</label></th><td>
<select id="finish" name="attribute_finish" data-attribute_name="attribute_finish"><option value="">Choose an option</option><option value="none" selected>None</option><option value="gloss">Gloss</option></select>
</td></tr></table>
<?php endif; ?>
<?php do_action( 'woocommerce_before_add_to_cart_button' ); ?>
<div class="quantity"><label>Quantity <input type="number" class="qty" name="quantity" value="1" min="1" /></label></div>
<button type="submit" name="add-to-cart" value="<?php echo esc_attr( (string) $product->get_id() ); ?>" class="single_add_to_cart_button button alt">Add to cart</button>
</form></div>
<?php wp_print_footer_scripts(); ?>
</body></html>
	<?php
	return true;
}

http_response_code( 404 );
echo 'not found';
return true;
