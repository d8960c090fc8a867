<?php
/**
 * The shop's WooCommerce webhooks to the bridge.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Creates or updates the order.created / order.updated webhooks pointing at the bridge, and
 * watches for WooCommerce disabling them after delivery failures.
 */
final class PrintBridge_Webhooks {

	/** Option: topic => webhook id of the webhooks this plugin manages. */
	const OPTION_IDS = 'printbridge_webhook_ids';
	/** Option: ids of our webhooks WooCommerce has disabled. */
	const OPTION_DISABLED = 'printbridge_webhooks_disabled';
	/** admin-post action re-enabling them. */
	const ACTION_REENABLE = 'printbridge_reenable_webhooks';
	/** Topics the bridge needs. */
	const TOPICS = array( 'order.created', 'order.updated' );
	/** REST API version of the payload: v3 keeps `_`-prefixed line-item meta. */
	const API_VERSION = 'wp_api_v3';
	/** Query argument of the re-enable confirmation (the number of webhooks re-enabled). */
	const QUERY_REENABLED = 'printbridge_reenabled';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'woocommerce_webhook_disabled_due_delivery_failures', array( __CLASS__, 'on_disabled' ) );
		add_action( 'admin_notices', array( __CLASS__, 'admin_notice' ) );
		add_action( 'admin_notices', array( __CLASS__, 'reenabled_notice' ) );
		add_action( 'admin_post_' . self::ACTION_REENABLE, array( __CLASS__, 'handle_reenable' ) );
		add_filter( 'removable_query_args', array( __CLASS__, 'removable_query_args' ) );
	}

	/**
	 * The confirmation's query argument is dropped from the address bar after the redirect.
	 *
	 * @param string[] $args Query arguments.
	 * @return string[]
	 */
	public static function removable_query_args( $args ) {
		$args   = is_array( $args ) ? $args : array();
		$args[] = self::QUERY_REENABLED;
		return $args;
	}

	/**
	 * Confirms, after the re-enable redirect, that the webhooks are active again.
	 *
	 * @return void
	 */
	public static function reenabled_notice() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects a message; the action itself was nonce-checked.
		if ( ! isset( $_GET[ self::QUERY_REENABLED ] ) || ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended
		$count = absint( wp_unslash( $_GET[ self::QUERY_REENABLED ] ) );
		$text  = $count > 0
			/* translators: %d: number of webhooks */
			? sprintf( _n( 'PrintBridge: %d webhook to the bridge is active again.', 'PrintBridge: %d webhooks to the bridge are active again.', $count, 'printbridge' ), $count )
			: __( 'PrintBridge: the webhooks to the bridge are active.', 'printbridge' );
		echo '<div class="notice notice-success is-dismissible printbridge-reenabled"><p>' . esc_html( $text ) . '</p></div>';
	}

	/**
	 * Creates or updates our webhooks from the stored settings.
	 *
	 * @param int $user_id User whose permissions build the payload (a shop manager).
	 * @return int[]|WP_Error Topic => webhook id.
	 */
	public static function sync( $user_id ) {
		if ( ! class_exists( 'WC_Webhook' ) ) {
			return new WP_Error( 'printbridge_no_woocommerce', __( 'WooCommerce is not active.', 'printbridge' ) );
		}
		if ( ! PrintBridge_Settings::is_connected() ) {
			return new WP_Error( 'printbridge_not_configured', __( 'Enter the bridge URL, store id, store token and webhook secret first.', 'printbridge' ) );
		}
		$ids = self::ids();
		$out = array();
		foreach ( self::TOPICS as $topic ) {
			$webhook = null;
			if ( ! empty( $ids[ $topic ] ) ) {
				$existing = new WC_Webhook( (int) $ids[ $topic ] );
				if ( $existing->get_id() ) {
					$webhook = $existing;
				}
			}
			if ( null === $webhook ) {
				$webhook = new WC_Webhook();
			}
			/* translators: %s: webhook topic such as order.created */
			$webhook->set_name( sprintf( __( 'PrintBridge %s', 'printbridge' ), $topic ) );
			$webhook->set_topic( $topic );
			$webhook->set_delivery_url( PrintBridge_Settings::webhook_delivery_url() );
			$webhook->set_secret( PrintBridge_Settings::get( 'webhook_secret' ) );
			$webhook->set_api_version( self::API_VERSION );
			$webhook->set_status( 'active' );
			$webhook->set_failure_count( 0 );
			if ( $user_id ) {
				$webhook->set_user_id( (int) $user_id );
			}
			$webhook->save();
			$out[ $topic ] = (int) $webhook->get_id();
		}
		update_option( self::OPTION_IDS, $out, false );
		delete_option( self::OPTION_DISABLED );
		return $out;
	}

	/**
	 * Topic => id of our webhooks.
	 *
	 * @return array<string,int>
	 */
	public static function ids() {
		$ids = get_option( self::OPTION_IDS, array() );
		return is_array( $ids ) ? array_map( 'intval', $ids ) : array();
	}

	/**
	 * WooCommerce disabled a webhook after failed deliveries: remember it if it is ours.
	 *
	 * @param int $webhook_id Webhook id.
	 * @return void
	 */
	public static function on_disabled( $webhook_id ) {
		$webhook_id = (int) $webhook_id;
		if ( ! in_array( $webhook_id, self::ids(), true ) ) {
			return;
		}
		$disabled = self::disabled();
		if ( ! in_array( $webhook_id, $disabled, true ) ) {
			$disabled[] = $webhook_id;
		}
		update_option( self::OPTION_DISABLED, $disabled, false );
	}

	/**
	 * Ids of our webhooks WooCommerce has disabled.
	 *
	 * @return int[]
	 */
	public static function disabled() {
		$ids = get_option( self::OPTION_DISABLED, array() );
		return is_array( $ids ) ? array_values( array_map( 'intval', $ids ) ) : array();
	}

	/**
	 * URL of the one-click re-enable action (with its nonce).
	 *
	 * @return string
	 */
	public static function reenable_url() {
		return wp_nonce_url( admin_url( 'admin-post.php?action=' . self::ACTION_REENABLE ), self::ACTION_REENABLE );
	}

	/**
	 * Shows the "webhooks disabled" notice to shop managers.
	 *
	 * @return void
	 */
	public static function admin_notice() {
		if ( ! current_user_can( 'manage_woocommerce' ) || ! self::disabled() ) {
			return;
		}
		printf(
			'<div class="notice notice-error"><p>%1$s</p><p><a class="button button-primary" href="%2$s">%3$s</a></p></div>',
			esc_html__( 'PrintBridge: WooCommerce disabled the webhooks that send orders to the bridge, after repeated failed deliveries. Until they are re-enabled, new orders reach the bridge only through its reconciliation.', 'printbridge' ),
			esc_url( self::reenable_url() ),
			esc_html__( 'Re-enable the webhooks', 'printbridge' )
		);
	}

	/**
	 * Re-enables our disabled webhooks (admin-post handler).
	 *
	 * @return void
	 */
	public static function handle_reenable() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'printbridge' ), 403 );
		}
		check_admin_referer( self::ACTION_REENABLE );
		$count   = self::reenable();
		$referer = wp_get_referer();
		$back    = $referer ? remove_query_arg( self::QUERY_REENABLED, $referer ) : admin_url();
		wp_safe_redirect( add_query_arg( self::QUERY_REENABLED, (string) $count, $back ) );
		exit;
	}

	/**
	 * Sets our webhooks active again with a zero failure count.
	 *
	 * @return int Number of webhooks re-enabled.
	 */
	public static function reenable() {
		$count = 0;
		foreach ( self::ids() as $id ) {
			$webhook = new WC_Webhook( $id );
			if ( ! $webhook->get_id() ) {
				continue;
			}
			if ( 'active' !== $webhook->get_status() ) {
				++$count;
			}
			$webhook->set_failure_count( 0 );
			$webhook->set_status( 'active' );
			$webhook->save();
		}
		delete_option( self::OPTION_DISABLED );
		return $count;
	}

	/**
	 * Deletes our webhooks (uninstall).
	 *
	 * @return void
	 */
	public static function delete_all() {
		if ( class_exists( 'WC_Webhook' ) ) {
			foreach ( self::ids() as $id ) {
				$webhook = new WC_Webhook( $id );
				if ( $webhook->get_id() ) {
					$webhook->delete( true );
				}
			}
		}
		delete_option( self::OPTION_IDS );
		delete_option( self::OPTION_DISABLED );
	}
}
