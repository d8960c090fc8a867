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
		var editor = cfg.editor || { configured: true, timeoutMs: 15000 };

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

		// Ends a wait after the configured time: the customer gets a message, never an
		// endless "Opening the editor...". Returns a function that cancels the wait.
		function deadline( onTimeout ) {
			var timer = window.setTimeout( onTimeout, editor.timeoutMs );
			return function () {
				window.clearTimeout( timer );
			};
		}

		function fail( message ) {
			busy = false;
			say( message || cfg.i18n.failed, true );
		}

		// Calls back with whether the provider's script (loaded asynchronously, its state
		// recorded by a snippet printed before it) is there, within the deadline.
		function whenScript( fn ) {
			var state = window.printbridgeScriptState;
			var el = document.getElementById( editor.scriptId );
			if ( ! editor.configured || ! el || state === 'failed' ) {
				fn( false );
				return;
			}
			if ( state === 'loaded' ) {
				fn( true );
				return;
			}
			var settled = false;
			var settle = function ( ok ) {
				if ( settled ) {
					return;
				}
				settled = true;
				cancel();
				el.removeEventListener( 'load', onLoad );
				el.removeEventListener( 'error', onError );
				fn( ok );
			};
			var onLoad = function () {
				settle( true );
			};
			var onError = function () {
				settle( false );
			};
			var cancel = deadline( onError );
			el.addEventListener( 'load', onLoad );
			el.addEventListener( 'error', onError );
		}

		// Accounts of Spiff's legacy Australian system use its older Transaction API; the
		// current systems use HostedExperience, with the region chosen by Spiff.setRegion.
		var spiffLegacy = !! cfg.spiff && cfg.spiff.region === 'au-legacy';

		// Spiff's api.js announces itself with SpiffApiReady (possibly after it has loaded).
		function whenSpiff( fn ) {
			var have = function () {
				var spiff = window.Spiff;
				return !! spiff && typeof spiff.IntegrationProduct === 'function' &&
					typeof ( spiffLegacy ? spiff.Transaction : spiff.HostedExperience ) === 'function';
			};
			whenScript( function ( loaded ) {
				if ( ! loaded ) {
					fail( cfg.i18n.noEditor );
					return;
				}
				if ( have() ) {
					fn();
					return;
				}
				var done = false;
				var ready = function () {
					if ( done || ! have() ) {
						return;
					}
					done = true;
					cancel();
					fn();
				};
				var cancel = deadline( function () {
					done = true;
					window.removeEventListener( 'SpiffApiReady', ready );
					fail( cfg.i18n.noEditor );
				} );
				window.addEventListener( 'SpiffApiReady', ready );
			} );
		}

		// The editor for `product`: a HostedExperience, or a Transaction on a legacy account.
		function spiffEditor( product ) {
			if ( spiffLegacy ) {
				return new window.Spiff.Transaction( {
					presentmentCurrency: cfg.spiff.currency,
					integrationProduct: product
				} );
			}
			var options = {
				presentmentCurrency: cfg.spiff.currency,
				product: product
			};
			if ( cfg.spiff.applicationKey ) {
				options.applicationKey = cfg.spiff.applicationKey;
			}
			return new window.Spiff.HostedExperience( options );
		}

		function startSpiffTransaction( product ) {
			var transaction = spiffEditor( product );
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
					fail( cfg.i18n.failed );
				} );
			}
			say( '', false );
		}

		function openSpiff() {
			whenSpiff( function () {
				var answered = false;
				var cancel = deadline( function () {
					answered = true;
					fail( cfg.i18n.noEditor );
				} );
				var answer = function ( fn ) {
					return function () {
						if ( answered ) {
							return;
						}
						answered = true;
						cancel();
						try {
							fn();
						} catch ( e ) {
							fail( cfg.i18n.failed );
						}
					};
				};
				try {
					if ( ! spiffLegacy && cfg.spiff.region && typeof window.Spiff.setRegion === 'function' ) {
						window.Spiff.setRegion( cfg.spiff.region );
					}
					var product = new window.Spiff.IntegrationProduct( cfg.spiff.integrationProductId );
					product.on( 'ready', answer( function () {
						startSpiffTransaction( product );
					} ) );
					product.on( 'invalid', answer( function () {
						fail( cfg.i18n.invalid );
					} ) );
					product.confirmActive();
				} catch ( e ) {
					answered = true;
					cancel();
					fail( cfg.i18n.noEditor );
				}
			} );
		}

		// Key2print: the server starts the work session; the wrapper opens the editor.
		// The editor's setup holds the product options (mirrored to the variation selects) and
		// the price-tree options (no select): the whole setup goes with the form, for the cart.
		var setupField = document.getElementById( 'printbridge-k2p-setup' );

		function keepSetup( setup ) {
			if ( setupField ) {
				setupField.value = JSON.stringify( setup );
			}
		}

		// A reopened line starts from the setup it was priced for, until the editor sends one.
		if ( cfg.key2print && cfg.key2print.editItem && cfg.key2print.setup ) {
			keepSetup( cfg.key2print.setup );
		}

		function syncOptions( setup ) {
			if ( ! setup || typeof setup !== 'object' ) {
				return;
			}
			keepSetup( setup );
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

		function requestSession( k ) {
			var body = new FormData();
			body.append( 'action', k.action );
			body.append( 'nonce', k.nonce );
			body.append( 'product_id', String( cfg.productId ) );
			if ( k.editItem ) {
				body.append( 'cart_item', k.editItem );
			}
			var controller = typeof window.AbortController === 'function' ? new window.AbortController() : null;
			var timedOut = false;
			var cancel = deadline( function () {
				timedOut = true;
				if ( controller ) {
					controller.abort();
				}
			} );
			return fetch( k.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin', signal: controller ? controller.signal : undefined } )
				.then( function ( r ) {
					return r.json();
				} )
				.then( function ( json ) {
					cancel();
					if ( timedOut ) {
						throw new Error( cfg.i18n.failed );
					}
					if ( ! json || ! json.success || ! json.data || ! json.data.token ) {
						throw new Error( json && json.data && json.data.message ? json.data.message : cfg.i18n.failed );
					}
					return json.data.token;
				}, function () {
					cancel();
					throw new Error( cfg.i18n.failed );
				} );
		}

		// A design reopened from the cart goes back into its own cart line, then to the cart.
		function updateLine( k, id ) {
			if ( typeof id !== 'string' || ! PATTERNS.key2print.test( id ) ) {
				fail( cfg.i18n.badDesign );
				return;
			}
			say( k.updating, false );
			var body = new FormData();
			body.append( 'action', k.updateAction );
			body.append( 'nonce', k.updateNonce );
			body.append( 'cart_item', k.editItem );
			body.append( 'product_id', String( cfg.productId ) );
			body.append( 'design_id', id );
			if ( setupField ) {
				body.append( 'printbridge_k2p_setup', setupField.value );
			}
			fetch( k.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin' } )
				.then( function ( r ) {
					return r.json();
				} )
				.then( function ( json ) {
					if ( ! json || ! json.success || ! json.data || ! json.data.cart_url ) {
						throw new Error( json && json.data && json.data.message ? json.data.message : cfg.i18n.failed );
					}
					window.location.assign( json.data.cart_url );
				} )
				.catch( function ( err ) {
					fail( err && err.message ? err.message : cfg.i18n.failed );
				} );
		}

		function openWrapper( k, token ) {
			var container = document.getElementById( k.containerId );
			var wrapper = null;
			var options = {
				sessionToken: token,
				width: k.width,
				height: k.height,
				onEditorFinishCallback: function ( projectId ) {
					try {
						wrapper.close();
					} catch ( e ) {}
					container.hidden = true;
					if ( k.editItem ) {
						updateLine( k, projectId );
					} else {
						submitWithDesign( projectId );
					}
				}
			};
			if ( k.gateway ) {
				options.onProductUpdateCallback = syncOptions;
			}
			try {
				container.hidden = false;
				wrapper = new window.K2PEditorWrapper( k.containerId, options );
				wrapper.open();
				say( '', false );
			} catch ( e ) {
				container.hidden = true;
				fail( cfg.i18n.noEditor );
			}
		}

		// The session is started only once the wrapper is there to use it: no Key2print user
		// or session is created for an editor that cannot open.
		function openKey2print() {
			var k = cfg.key2print;
			whenScript( function ( loaded ) {
				if ( ! loaded || typeof window.K2PEditorWrapper !== 'function' ) {
					fail( cfg.i18n.noEditor );
					return;
				}
				requestSession( k )
					.then( function ( token ) {
						openWrapper( k, token );
					} )
					.catch( function ( err ) {
						fail( err && err.message ? err.message : cfg.i18n.failed );
					} );
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
				fail( cfg.i18n.noEditor );
			}
		}

		button.addEventListener( 'click', function ( e ) {
			e.preventDefault();
			open();
		} );
		// Reached from a cart line's "Edit design" link: the editor opens on that design.
		if ( cfg.key2print && cfg.key2print.editItem ) {
			open();
		}
		// The normal add-to-cart button opens the editor until there is a design.
		form.addEventListener( 'submit', function ( e ) {
			if ( ! field.value ) {
				e.preventDefault();
				open();
			}
		} );
	} );
}() );
