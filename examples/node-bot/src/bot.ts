// A shop bot's round trip against orderpay, written only against the types generated from
// the served /openapi.json (npm run generate): subscribe to webhooks, create an order with an
// Idempotency-Key (and retry it), send its pay link, pay it through the sandbox's test helper,
// receive `order.paid` verified by the Standard Webhooks library, refund part of it, and read
// a problem's members. No cast anywhere: if the document says something the API does not do,
// this file stops compiling or this run fails.
//
//   ORDERPAY_URL=http://localhost:8080 ORDERPAY_API_KEY=opk_... npm start

import { createServer } from "node:http";
import type { IncomingHttpHeaders } from "node:http";

import createClient from "openapi-fetch";
import { Webhook } from "standardwebhooks";

import type { components, paths } from "./orderpay.js";

type Event = components["schemas"]["Event"];

const base = process.env.ORDERPAY_URL ?? "http://localhost:8080";
const apiKey = process.env.ORDERPAY_API_KEY;
if (!apiKey) {
  throw new Error("set ORDERPAY_API_KEY (orderpay api-key create --name bot)");
}

const orderpay = createClient<paths>({
  baseUrl: base,
  headers: { Authorization: `Bearer ${apiKey}` },
});

function check(holds: boolean, what: string, detail?: unknown): asserts holds {
  if (!holds) {
    throw new Error(`${what}: ${JSON.stringify(detail)}`);
  }
}

/** Whether a verified payload is an event: a runtime check, so no cast is needed. */
function isEvent(payload: unknown): payload is Event {
  return (
    typeof payload === "object" &&
    payload !== null &&
    "object" in payload &&
    payload.object === "event" &&
    "type" in payload &&
    typeof payload.type === "string" &&
    "data" in payload
  );
}

function headersOf(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string") {
      out[name] = value;
    }
  }
  return out;
}

// 1. A receiver for the shop's webhooks, verifying each delivery.
const received: Event[] = [];
let verifier: Webhook | undefined;
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    try {
      const payload = verifier?.verify(Buffer.concat(chunks).toString("utf8"), headersOf(request.headers));
      if (isEvent(payload)) {
        received.push(payload);
      }
      response.writeHead(204).end();
    } catch (error) {
      response.writeHead(400).end(String(error));
    }
  });
});
await new Promise<void>((listening) => receiver.listen(0, "127.0.0.1", listening));
const address = receiver.address();
check(address !== null && typeof address !== "string", "the receiver listens on a port", address);
const port = address.port;

try {
  // 2. Subscribe: the secret is in the creation answer (and only there).
  const subscribed = await orderpay.POST("/v1/webhook_endpoints", {
    body: {
      url: `http://127.0.0.1:${port}/orderpay`,
      enabled_events: ["order.paid", "order.partially_refunded"],
      description: "the example bot",
    },
  });
  check(subscribed.data !== undefined, "subscribing failed", subscribed.error);
  verifier = new Webhook(subscribed.data.secret);

  // 3. An order for a customer found or created by phone, safe to retry with its key.
  const idempotencyKey = `example-bot-${Date.now()}`;
  const newOrder = {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    body: {
      customer: { phone: "+14155550123", name: "Ada" },
      currency: "usd",
      items: [{ name: "Tea", quantity: 2, unit_amount: 450 }],
      metadata: { chat_id: "42" },
    },
  };
  const created = await orderpay.POST("/v1/orders", newOrder);
  check(created.data !== undefined, "creating the order failed", created.error);
  const order = created.data;
  check(order.status === "pending_payment" && order.total_amount === 900, "a new order", order);
  const retried = await orderpay.POST("/v1/orders", newOrder);
  check(
    retried.data?.id === order.id && retried.response.headers.get("Idempotent-Replayed") === "true",
    "a retry with the same key is the first answer",
    retried.data,
  );
  console.log(`order ${order.reference} (${order.id}) for ${order.total_amount} ${order.currency}`);

  // 4. The pay link the customer receives in the chat.
  const link = await orderpay.POST("/v1/orders/{id}/payment-link", {
    params: { path: { id: order.id } },
  });
  check(link.data !== undefined, "no pay link", link.error);
  console.log(`pay link: ${link.data.url}`);

  // 5. The customer pays (the sandbox's test helper, as a bot's own tests do).
  const paid = await orderpay.POST("/v1/test_helpers/orders/{id}/pay", {
    params: { path: { id: order.id } },
  });
  check(paid.data?.status === "paid", "paying through the test helper", paid.error ?? paid.data);

  // 6. The bot learns it from the webhook, verified, typed by its `type`.
  const deadline = Date.now() + 15_000;
  let paidEvent: Extract<Event, { type: "order.paid" }> | undefined;
  while (paidEvent === undefined && Date.now() < deadline) {
    for (const event of received) {
      if (event.type === "order.paid" && event.data.object.id === order.id) {
        paidEvent = event;
      }
    }
    await new Promise((wait) => setTimeout(wait, 100));
  }
  check(paidEvent !== undefined, "no verified order.paid delivery", received);
  check(paidEvent.data.object.status === "paid", "the event shows the order paid", paidEvent);
  console.log(`webhook ${paidEvent.id}: ${paidEvent.type}`);

  // 7. Part of it back.
  const refunded = await orderpay.POST("/v1/orders/{id}/refunds", {
    params: { path: { id: order.id } },
    body: { amount: 300, reason: "requested_by_customer" },
  });
  check(refunded.data?.status === "partially_refunded", "a partial refund", refunded.error);
  check(refunded.data.amount_refunded === 300, "300 refunded", refunded.data);

  // A misspelt reason does not compile: the document says which reasons there are.
  // @ts-expect-error `customer_asked` is not a refund reason
  const misspelt: components["schemas"]["RefundRequest"] = { reason: "customer_asked" };
  void misspelt;

  // 8. A problem's members are typed too.
  const unknown = await orderpay.GET("/v1/customers/lookup", {
    params: { query: { phone: "+14155550999" } },
  });
  check(unknown.error?.code === "not_found", "an unknown phone is not_found", unknown.error);
  const again = await orderpay.POST("/v1/customers", {
    body: { phone: "+14155550123", name: "Ada" },
  });
  check(
    again.error?.code === "customer_exists" && again.error.existing_customer_id === order.customer_id,
    "the customer exists, and the problem names them",
    again.error,
  );
  console.log("example bot: every step as documented");
} finally {
  receiver.close();
}
