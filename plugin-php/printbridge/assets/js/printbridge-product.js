/**
 * PrintBridge product page: opens the provider's editor and, when the design is done, puts
 * its id into the hidden field and submits the normal add-to-cart form.
 */
( function () {
	'use strict';

	var cfg = window.printbridgeProduct;
	if ( ! cfg ) {
		return;
	}
	var PATTERNS = {
		spiff: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
		key2print: /^[A-Za-z0-9_-]{1,64}$/
	};

	function onReady( fn ) {
		if ( document.readyState === 'loading' ) {
			document.addEventListener( 'DOMContentLoaded', fn );
		} else {
			fn();
		}
	}

	onReady( function () {
		var field = document.getElementById( 'printbridge-design-id' );
		var button = document.getElementById( 'printbridge-personalise' );
		var status = document.getElementById( 'printbridge-status' );
		if ( ! field || ! button || ! field.form ) {
			return;
		}
		var form = field.form;
		var busy = false;

		function say( text, isError ) {
			if ( status ) {
				status.textContent = text || '';
				status.classList.toggle( 'is-error', !! isError );
			}
		}

		function submitButton() {
			return form.querySelector( 'button[type="submit"][name="add-to-cart"], button.single_add_to_cart_button[type="submit"]' );
		}

		function submitWithDesign( id ) {
			if ( typeof id !== 'string' || ! PATTERNS[ cfg.provider ].test( id ) ) {
				say( cfg.i18n.badDesign, true );
				busy = false;
				return;
			}
			field.value = id;
			say( cfg.i18n.addingCart, false );
			var submitter = submitButton();
			if ( typeof form.requestSubmit === 'function' ) {
				form.requestSubmit( submitter || undefined );
			} else {
				if ( submitter && submitter.name && ! form.querySelector( 'input[type="hidden"][name="' + submitter.name + '"]' ) ) {
					var hidden = document.createElement( 'input' );
					hidden.type = 'hidden';
					hidden.name = submitter.name;
					hidden.value = submitter.value;
					form.appendChild( hidden );
				}
				form.submit();
			}
		}

		// Spiff: IntegrationProduct -> confirmActive -> Transaction -> execute -> complete.
		function whenSpiff( fn ) {
			if ( window.Spiff && window.Spiff.IntegrationProduct ) {
				fn();
			} else {
				window.addEventListener( 'SpiffApiReady', fn, { once: true } );
			}
		}

		function openSpiff() {
			whenSpiff( function () {
				var product = new window.Spiff.IntegrationProduct( cfg.spiff.integrationProductId );
				product.on( 'ready', function () {
					var transaction = new window.Spiff.Transaction( {
						presentmentCurrency: cfg.spiff.currency,
						integrationProduct: product
					} );
					transaction.on( 'complete', function ( result ) {
						submitWithDesign( result && result.transactionId );
					} );
					transaction.on( 'quit', function () {
						busy = false;
						say( '', false );
					} );
					var started = transaction.execute();
					if ( started && typeof started.catch === 'function' ) {
						started.catch( function () {
							busy = false;
							say( cfg.i18n.failed, true );
						} );
					}
				} );
				product.on( 'invalid', function () {
					busy = false;
					say( cfg.i18n.invalid, true );
				} );
				product.confirmActive();
			} );
		}

		// Key2print: the server starts the work session; the wrapper opens the editor.
		function syncOptions( setup ) {
			if ( ! setup || typeof setup !== 'object' ) {
				return;
			}
			Object.keys( setup ).forEach( function ( option ) {
				var name = 'attribute_' + option;
				var select = null;
				form.querySelectorAll( 'select' ).forEach( function ( el ) {
					if ( el.name === name || el.getAttribute( 'data-attribute_name' ) === name ) {
						select = el;
					}
				} );
				var value = String( setup[ option ] );
				if ( ! select || select.value === value ) {
					return;
				}
				var exists = Array.prototype.some.call( select.options, function ( o ) {
					return o.value === value;
				} );
				if ( ! exists ) {
					return;
				}
				select.value = value;
				select.dispatchEvent( new Event( 'change', { bubbles: true } ) );
				if ( window.jQuery ) {
					window.jQuery( select ).trigger( 'change' );
				}
			} );
		}

		function openKey2print() {
			var k = cfg.key2print;
			var body = new FormData();
			body.append( 'action', k.action );
			body.append( 'nonce', k.nonce );
			body.append( 'product_id', String( cfg.productId ) );
			fetch( k.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin' } )
				.then( function ( r ) {
					return r.json();
				} )
				.then( function ( json ) {
					if ( ! json || ! json.success || ! json.data || ! json.data.token ) {
						throw new Error( json && json.data && json.data.message ? json.data.message : cfg.i18n.failed );
					}
					var container = document.getElementById( k.containerId );
					container.hidden = false;
					var options = {
						sessionToken: json.data.token,
						width: k.width,
						height: k.height,
						onEditorFinishCallback: function ( projectId ) {
							try {
								wrapper.close();
							} catch ( e ) {}
							container.hidden = true;
							submitWithDesign( projectId );
						}
					};
					if ( k.gateway ) {
						options.onProductUpdateCallback = syncOptions;
					}
					var wrapper = new window.K2PEditorWrapper( k.containerId, options );
					wrapper.open();
					say( '', false );
				} )
				.catch( function ( err ) {
					busy = false;
					say( err && err.message ? err.message : cfg.i18n.failed, true );
				} );
		}

		function open() {
			if ( busy ) {
				return;
			}
			busy = true;
			say( cfg.i18n.open, false );
			try {
				if ( cfg.provider === 'spiff' ) {
					openSpiff();
				} else {
					openKey2print();
				}
			} catch ( e ) {
				busy = false;
				say( cfg.i18n.failed, true );
			}
		}

		button.addEventListener( 'click', function ( e ) {
			e.preventDefault();
			open();
		} );
		// The normal add-to-cart button opens the editor until there is a design.
		form.addEventListener( 'submit', function ( e ) {
			if ( ! field.value ) {
				e.preventDefault();
				open();
			}
		} );
	} );
}() );
