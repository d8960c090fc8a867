<?php
/**
 * WordPress's personal data tools, extended to what the bridge holds.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Registers a personal data exporter and eraser (Tools → Export / Erase Personal Data), so a
 * customer's request also covers the bridge: their orders' deliveries, print jobs with their
 * attempts, kept PDFs and tracking. Both call the bridge's store API with the store token;
 * WordPress pages through them (the bridge answers ten orders per call).
 */
class PrintBridge_Privacy {

	/** Key of the exporter and the eraser. */
	const KEY = 'printbridge';

	/** Prefix of the transients that carry an export's position from one page to the next. */
	const CURSOR_PREFIX = 'printbridge_export_';

	/**
	 * Registers the exporter and the eraser.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'register_exporter' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'register_eraser' ) );
	}

	/**
	 * Adds the exporter.
	 *
	 * @param array $exporters Exporters by key.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		$exporters[ self::KEY ] = array(
			'exporter_friendly_name' => __( 'PrintBridge (print orders)', 'printbridge' ),
			'callback'               => array( __CLASS__, 'export' ),
		);
		return $exporters;
	}

	/**
	 * Adds the eraser.
	 *
	 * @param array $erasers Erasers by key.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		$erasers[ self::KEY ] = array(
			'eraser_friendly_name' => __( 'PrintBridge (print orders)', 'printbridge' ),
			'callback'             => array( __CLASS__, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * The request body naming the customer: their e-mail and, when they have an account,
	 * their customer id.
	 *
	 * @param string $email E-mail address of the request.
	 * @return array
	 */
	private static function subject( $email ) {
		$email = sanitize_email( $email );
		$user  = get_user_by( 'email', $email );
		return array(
			'email'       => $email,
			'customer_id' => $user ? (int) $user->ID : 0,
		);
	}

	/**
	 * Whether the plugin is connected to a bridge (without one, the bridge holds nothing).
	 *
	 * @return bool
	 */
	private static function connected() {
		$s = PrintBridge_Settings::all();
		return '' !== $s['bridge_url'] && '' !== $s['store_id'] && '' !== $s['store_token'];
	}

	/**
	 * The exporter: one page of the customer's orders at the bridge.
	 *
	 * @param string $email E-mail address.
	 * @param int    $page  Page, from 1.
	 * @return array|WP_Error
	 */
	public static function export( $email, $page = 1 ) {
		if ( ! self::connected() ) {
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$page    = max( 1, (int) $page );
		$subject = self::subject( $email );
		$key     = self::CURSOR_PREFIX . md5( strtolower( $subject['email'] ) ) . '_' . $page;
		$after   = 1 === $page ? 0 : get_transient( $key );
		if ( false === $after ) {
			return new WP_Error( 'printbridge_export_page', __( 'PrintBridge lost its place in this export; start the export again.', 'printbridge' ) );
		}
		delete_transient( $key );
		$answer = PrintBridge_Bridge_Client::from_settings( 30 )->privacy_export( $subject + array( 'after' => (int) $after ) );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$data = array();
		foreach ( (array) ( $answer['orders'] ?? array() ) as $order ) {
			$data[] = self::order_item( (array) $order );
		}
		if ( 1 === $page && ! empty( $answer['key2print_user'] ) ) {
			$data[] = array(
				'group_id'    => 'printbridge-key2print',
				'group_label' => __( 'Key2print designer account (PrintBridge)', 'printbridge' ),
				'item_id'     => 'printbridge-key2print-user',
				'data'        => array(
					array(
						'name'  => __( 'Key2print user', 'printbridge' ),
						'value' => (string) $answer['key2print_user'],
					),
				),
			);
		}
		$next = $answer['next_after'] ?? null;
		if ( null !== $next ) {
			set_transient( self::CURSOR_PREFIX . md5( strtolower( $subject['email'] ) ) . '_' . ( $page + 1 ), (int) $next, HOUR_IN_SECONDS );
		}
		return array(
			'data' => $data,
			'done' => null === $next,
		);
	}

	/**
	 * One order's export item: what the bridge received and what it did with it.
	 *
	 * @param array $order The bridge's export of one order.
	 * @return array
	 */
	private static function order_item( array $order ) {
		$id   = (int) ( $order['order_id'] ?? 0 );
		$rows = array(
			array(
				'name'  => __( 'Order', 'printbridge' ),
				'value' => (string) ( $order['number'] ?? $id ),
			),
			array(
				'name'  => __( 'Status at the bridge', 'printbridge' ),
				'value' => (string) ( $order['status'] ?? '' ),
			),
			array(
				'name'  => __( 'Order as the bridge last received it', 'printbridge' ),
				'value' => (string) wp_json_encode( $order['current'] ?? null ),
			),
		);
		foreach ( (array) ( $order['jobs'] ?? array() ) as $job ) {
			$rows[] = array(
				/* translators: %d: job id at the bridge */
				'name'  => sprintf( __( 'Print job %d', 'printbridge' ), (int) ( $job['id'] ?? 0 ) ),
				/* translators: 1: provider, 2: state, 3: number of attempts */
				'value' => sprintf( __( '%1$s: %2$s after %3$d attempt(s)', 'printbridge' ), (string) ( $job['provider'] ?? '' ), (string) ( $job['state'] ?? '' ), (int) ( $job['attempts'] ?? 0 ) ),
			);
		}
		foreach ( (array) ( $order['tracking'] ?? array() ) as $t ) {
			$rows[] = array(
				'name'  => __( 'Tracking number', 'printbridge' ),
				'value' => trim( (string) ( $t['carrier'] ?? '' ) . ' ' . (string) ( $t['number'] ?? '' ) ),
			);
		}
		foreach ( (array) ( $order['delivery_bodies'] ?? array() ) as $d ) {
			$rows[] = array(
				/* translators: 1: delivery id, 2: time received */
				'name'  => sprintf( __( 'Delivery %1$d received %2$s', 'printbridge' ), (int) ( $d['id'] ?? 0 ), (string) ( $d['received_at'] ?? '' ) ),
				'value' => (string) ( $d['body'] ?? '' ),
			);
		}
		return array(
			'group_id'          => 'printbridge-orders',
			'group_label'       => __( 'Print orders (PrintBridge)', 'printbridge' ),
			'group_description' => __( 'What the PrintBridge service received of your orders and what it sent to the print providers.', 'printbridge' ),
			'item_id'           => 'printbridge-order-' . $id,
			'data'              => $rows,
		);
	}

	/**
	 * The eraser: one round of the customer's erasure at the bridge (ten orders).
	 *
	 * @param string $email E-mail address.
	 * @param int    $page  Page, from 1 (each round erases the next orders).
	 * @return array|WP_Error
	 */
	public static function erase( $email, $page = 1 ) {
		unset( $page );
		$none = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
		if ( ! self::connected() ) {
			return $none;
		}
		$answer = PrintBridge_Bridge_Client::from_settings( 60 )->privacy_erase( self::subject( $email ) );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$result         = $none;
		$result['done'] = ! empty( $answer['done'] );
		foreach ( (array) ( $answer['orders'] ?? array() ) as $order ) {
			$result['items_removed'] = true;
			foreach ( self::order_messages( (array) $order ) as $message ) {
				$result['items_retained'] = true;
				$result['messages'][]     = $message;
			}
		}
		if ( ! empty( $answer['key2print_user_forgotten'] ) ) {
			$result['items_removed'] = true;
		}
		return $result;
	}

	/**
	 * What WordPress's screen shows about one erased order: jobs cancelled, placed or under
	 * way (the providers keep what they were sent).
	 *
	 * @param array $order The bridge's report of one erased order.
	 * @return string[]
	 */
	private static function order_messages( array $order ) {
		$id       = (int) ( $order['order_id'] ?? 0 );
		$messages = array();
		$names    = static function ( $jobs ) {
			return implode( ', ', array_unique( array_map( static fn( $j ) => ucfirst( (string) ( $j['provider'] ?? '' ) ), (array) $jobs ) ) );
		};
		if ( ! empty( $order['cancelled'] ) ) {
			/* translators: 1: order id, 2: provider names */
			$messages[] = sprintf( __( 'Order %1$d: print jobs not yet sent were cancelled (%2$s); they will not be sent.', 'printbridge' ), $id, $names( $order['cancelled'] ) );
		}
		if ( ! empty( $order['placed'] ) ) {
			/* translators: 1: order id, 2: provider names */
			$messages[] = sprintf( __( 'Order %1$d was already sent to %2$s; the provider keeps its own copy. Ask the provider to erase it.', 'printbridge' ), $id, $names( $order['placed'] ) );
		}
		if ( ! empty( $order['in_flight'] ) ) {
			/* translators: 1: order id, 2: provider names */
			$messages[] = sprintf( __( 'Order %1$d: a call to %2$s was under way during the erasure; the provider may have received the data.', 'printbridge' ), $id, $names( $order['in_flight'] ) );
		}
		return $messages;
	}
}
